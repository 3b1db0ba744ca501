package pluginrpc

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorDomain marks the ErrorInfo details this package writes.
const errorDomain = "rideshare.plugin"

// errorKind is one error class that keeps its identity across the boundary.
type errorKind struct {
	reason  string
	code    codes.Code
	match   func(error) bool
	rebuild func(msg string) error
}

var (
	kindsMu sync.RWMutex
	kinds   []errorKind
)

// RegisterError makes errors for which match is true cross the boundary as
// reason, and come out on the host side as rebuild(message). Each plugin kind
// registers its own errors in an init function; both sides of the boundary run
// the same init, so the table is the same on both.
func RegisterError(reason string, code codes.Code, match func(error) bool, rebuild func(msg string) error) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	kinds = append(kinds, errorKind{reason: reason, code: code, match: match, rebuild: rebuild})
}

// RegisterSentinel is RegisterError for a sentinel error value: on the host
// side errors.Is(err, sentinel) holds, and err.Error() is the plugin's message.
func RegisterSentinel(reason string, code codes.Code, sentinel error) {
	RegisterError(reason, code,
		func(err error) bool { return errors.Is(err, sentinel) },
		func(msg string) error { return &RemoteError{Msg: msg, Reason: reason, Err: sentinel} })
}

// RemoteError is an error returned by the implementation inside a plugin. Its
// message is the implementation's own; Err, when set, is the registered
// sentinel it matched (so errors.Is works on the host side).
type RemoteError struct {
	Msg    string
	Reason string
	Err    error
}

func (e *RemoteError) Error() string { return e.Msg }
func (e *RemoteError) Unwrap() error { return e.Err }

// ToStatus turns an implementation's error into a gRPC status error on the
// plugin side. The message is always err.Error(); context errors keep their
// code; registered errors carry their reason. Every other error is
// codes.Unknown, so codes.Unavailable only ever means a transport failure.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if isOwnStatus(err) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	for _, k := range kinds {
		if k.match(err) {
			st, derr := status.New(k.code, err.Error()).WithDetails(&errdetails.ErrorInfo{Reason: k.reason, Domain: errorDomain})
			if derr != nil {
				return status.Error(k.code, err.Error())
			}
			return st.Err()
		}
	}
	return status.Error(codes.Unknown, err.Error())
}

// ownStatus is a status error built by a shim itself (Errorf below): it passes
// through ToStatus unchanged.
type ownStatus struct{ st *status.Status }

func (o ownStatus) Error() string              { return o.st.Err().Error() }
func (o ownStatus) GRPCStatus() *status.Status { return o.st }

func isOwnStatus(err error) bool {
	var o ownStatus
	return errors.As(err, &o)
}

// Errorf is a shim-level error with an explicit gRPC code (for example
// codes.FailedPrecondition for "not configured").
func Errorf(code codes.Code, format string, args ...any) error {
	return ownStatus{st: status.Newf(code, format, args...)}
}

// FromStatus turns the error of a call into what the host-side caller sees:
//   - a registered error is rebuilt (errors.Is against its sentinel holds);
//   - codes.Canceled / DeadlineExceeded while ctx is done become ctx.Err();
//   - a transport failure (see IsTransport) stays a status error;
//   - anything else is a *RemoteError carrying the plugin's message.
func FromStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if st.Code() == codes.DeadlineExceeded {
			// The implementation timed out on its own (its backend was slow).
			return &RemoteError{Msg: st.Message(), Err: context.DeadlineExceeded}
		}
		// Canceled while the caller's ctx is live: the connection was closed
		// under the call (the plugin is going away). That is transport.
		return err
	case codes.Unavailable:
		return err
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.Domain != errorDomain {
			continue
		}
		kindsMu.RLock()
		for _, k := range kinds {
			if k.reason == info.Reason {
				kindsMu.RUnlock()
				return k.rebuild(st.Message())
			}
		}
		kindsMu.RUnlock()
	}
	return &RemoteError{Msg: st.Message()}
}

// IsTransport reports whether err (as returned by a generated client call, a
// stream, or Subscribe) means the plugin could not be reached: the process died, the
// connection broke, or it was closed under the call. The call may or may not
// have taken effect inside the plugin.
func IsTransport(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled:
		return true
	}
	return false
}
