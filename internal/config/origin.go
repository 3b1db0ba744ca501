package config

// The rides service's origin: the Origin header of its check of a user.

import (
	"net/url"
	"strings"
)

// ridesService is the one service that sends an Origin.
const ridesService = "rides"

// origin checks a service block's origin once: only rides sends one, and
// it must be a value an Origin header can carry and that names a host — an
// origin ("http://203.0.113.7", "https://rides.example.com:8443") or a bare
// host ("203.0.113.7", "ec2-203-0-113-7.compute-1.amazonaws.com"), since the
// original assignment asks for "the public IP address or public DNS name".
// "" is left as it is: the rides command defaults it (rides.DefaultOrigin)
// from the address it really listens on, which -listen may change.
func (d *decoder) origin(svc Service) {
	o := svc.Origin
	if o == "" {
		return
	}
	what := "service \"" + svc.Name + "\".origin"
	if svc.Name != ridesService {
		d.fail(svc.Body, "origin", what, "only the %s service sends an Origin header", ridesService)
		return
	}
	if strings.ContainsFunc(o, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		d.fail(svc.Body, "origin", what, "%q has a space or control character; want an origin like http://203.0.113.7 or a host name", o)
		return
	}
	if !strings.Contains(o, "://") {
		o = "http://" + o // a bare host: checked as the host of an origin
	}
	u, err := url.Parse(o)
	switch {
	case err != nil:
		d.fail(svc.Body, "origin", what, "%q: %v", svc.Origin, err)
	case u.Scheme != "http" && u.Scheme != "https":
		d.fail(svc.Body, "origin", what, "%q: scheme %q is not http or https", svc.Origin, u.Scheme)
	case u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		d.fail(svc.Body, "origin", what, "%q is not an origin (scheme://host[:port]) or a host name", svc.Origin)
	}
}
