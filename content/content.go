// Package content is the course as its authors write it: course.yaml (the
// front page), legislation.yaml, modules/NN-slug/ with module.md and the
// sections, media/ with the transcripts of videos and podcasts, and
// glossary/. docs/authoring.md describes the format. The binary embeds
// this folder as the bundled course.
package content

import (
	"embed"
	"io/fs"
)

//go:embed *
var files embed.FS

// Bundled is the course content built into the binary.
func Bundled() fs.FS { return files }
