package composetest

import (
	"context"
	"strings"
)

// Leftovers lists whatever of compose project name the engine still holds: containers (the
// services', by compose's project label; the workers', by the docker runtime's stack label, and
// the containers named), its network and its volumes.
func Leftovers(ctx context.Context, name string, containers ...string) []string {
	var left []string
	check := func(args ...string) {
		out, err := Run(ctx, "", nil, "docker", args...)
		if err != nil {
			left = append(left, err.Error())
			return
		}
		for _, l := range Lines(out) {
			left = append(left, strings.Join(args[:2], " ")+": "+l)
		}
	}
	check("ps", "-a", "--filter", "label=com.docker.compose.project="+name, "--format", "{{.Names}}")
	check("ps", "-a", "--filter", "label=rideshare.stack="+name, "--format", "{{.Names}}")
	for _, c := range containers {
		check("ps", "-a", "--filter", "name=^"+c+"$", "--format", "{{.Names}}")
	}
	check("network", "ls", "--filter", "label=com.docker.compose.project="+name, "--format", "{{.Name}}")
	check("network", "ls", "--filter", "name="+name+"_", "--format", "{{.Name}}")
	check("volume", "ls", "--filter", "label=com.docker.compose.project="+name, "--format", "{{.Name}}")
	check("volume", "ls", "--filter", "name="+name+"_", "--format", "{{.Name}}")
	return left
}

// Remove takes away whatever of compose project name is left after `docker-compose down`
// (a failed run, workers compose does not know), by its labels and names, so that a test
// leaves nothing on the engine either way.
func Remove(ctx context.Context, name string) {
	for _, label := range []string{"com.docker.compose.project=" + name, "rideshare.stack=" + name} {
		out, _ := Run(ctx, "", nil, "docker", "ps", "-aq", "--filter", "label="+label)
		if ids := Lines(out); len(ids) > 0 {
			_, _ = Run(ctx, "", nil, "docker", append([]string{"rm", "-f"}, ids...)...)
		}
	}
	_, _ = Run(ctx, "", nil, "docker", "network", "rm", name+"_net")
	out, _ := Run(ctx, "", nil, "docker", "volume", "ls", "-q", "--filter", "name="+name+"_")
	if vs := Lines(out); len(vs) > 0 {
		_, _ = Run(ctx, "", nil, "docker", append([]string{"volume", "rm", "-f"}, vs...)...)
	}
}
