// Package hcl ships the deployment configurations inside the binary, so a
// fresh install runs `rideshare up` with no file on disk.
package hcl

import "embed"

// Files holds every shipped *.hcl file by its base name.
//
//go:embed *.hcl
var Files embed.FS
