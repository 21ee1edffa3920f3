package course

import (
	"path"
	"strings"
	"testing/fstest"
)

// Tree is the course's content tree: the files it was loaded from, as the
// studio's previews and structure changes work on them.
func (c *Course) Tree() fstest.MapFS {
	out := make(fstest.MapFS, len(c.Files))
	for p, f := range c.Files {
		out[p] = &fstest.MapFile{Data: f.Data, Mode: 0o444}
	}
	return out
}

// WithFile is a copy of tree with p's text replaced by data.
func WithFile(tree fstest.MapFS, p string, data []byte) fstest.MapFS {
	return Apply(tree, []FileChange{{Path: p, Data: data}})
}

// ContentFile says whether p is a file a content tree is made of (what
// course.Load reads), as opposed to other files kept beside it.
func ContentFile(p string) bool {
	switch p {
	case "course.yaml", "legislation.yaml", RedirectsFile:
		return true
	}
	top, _, _ := strings.Cut(p, "/")
	switch top {
	case "modules", "media", "exam", "glossary":
		ext := strings.ToLower(path.Ext(p))
		_, image := imageExts[ext]
		return ext == ".md" || ext == ".yaml" || image
	case archiveDir:
		return true
	}
	return false
}
