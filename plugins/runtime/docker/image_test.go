package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"

	"github.com/rideshare/dbaas/plugins/runtime/runtimetest"
)

// testImage is built by TestMain around the static stand-in worker.
const testImage = "rideshare-runtimetest:latest"

// buildTestImage compiles the stand-in worker and builds testImage FROM
// scratch around it with the engine's build API (no registry is needed).
// It returns the worker binary's path.
func buildTestImage(ctx context.Context, cli *client.Client, dir string) (string, error) {
	bin, err := runtimetest.BuildWorker(dir)
	if err != nil {
		return "", err
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	name := filepath.Base(bin)
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s /%s\nENTRYPOINT [\"/%s\"]\n", name, name, name)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{name, 0o755, exe},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}

	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{testImage},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{"rideshare.test": "runtimetest"},
	})
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", testImage, err)
	}
	defer resp.Body.Close()
	// The body is a JSON stream; a failed step arrives as {"error": ...}.
	var out strings.Builder
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("build image %s: reading output: %w", testImage, err)
		}
		out.WriteString(msg.Stream)
		if msg.Error != "" {
			return "", fmt.Errorf("build image %s: %s\n%s", testImage, msg.Error, out.String())
		}
	}
	return bin, nil
}
