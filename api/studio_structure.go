package api

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/studio"
)

type studioStructureData struct {
	// Modules are all of them, the hidden ones (still being written)
	// included.
	Modules  []*course.Module
	Notice   string
	Problems []string
	Error    string
	// Confirm asks before archiving a section or module, or hiding a
	// module: how many learners have progress there.
	Confirm *structureConfirm
}

type structureConfirm struct {
	Op, Module, Section, Title string
	Learners                   int
}

// structureNotices are the notices a change leaves (?ilmoitus=).
var structureNotices = map[string]bool{
	"added": true, "renamed": true, "moved": true, "archived": true,
	"module-added": true, "module-renamed": true, "module-archived": true, "module-shown": true, "module-hidden": true,
}

// studioStructure shows the modules and their sections with the forms
// that add, rename, move and archive them.
func (h *studioHandlers) studioStructure(c *fiber.Ctx) error {
	if _, err := h.studioStore(); err != nil {
		return err
	}
	d := &studioStructureData{Modules: h.published().Course.AllModules()}
	if n := c.Query("ilmoitus"); structureNotices[n] {
		d.Notice = "studio.structure.done." + n
	}
	return h.renderPrivate(c, "studio_structure", "studio.structure.title", d)
}

// structureOps are the changes of POST /studio/rakenne: the section ops
// name a module and a section, the module ops a module (module-add
// neither).
var structureOps = map[string]string{
	"add": "module", "rename": "section", "up": "section", "down": "section", "archive": "section",
	"module-up": "module", "module-down": "module", "module-add": "", "module-rename": "module",
	"module-show": "module", "module-hide": "module", "module-archive": "module",
}

// studioStructureChange makes one change (structureOps). Archiving and
// hiding ask first, saying how many learners have progress there.
func (h *studioHandlers) studioStructureChange(c *fiber.Ctx) error {
	store, err := h.studioStore()
	if err != nil {
		return err
	}
	op := c.FormValue("op")
	needs, known := structureOps[op]
	if !known {
		return fiber.NewError(fiber.StatusBadRequest, "op must be add, rename, up, down, archive, module-add, module-rename, module-up, module-down, module-show, module-hide or module-archive")
	}
	module, section := c.FormValue("module"), c.FormValue("section")
	// Copies: Fiber's form values point into the request buffer.
	slug, title, summary := strings.TrimSpace(c.FormValue("slug")), c.FormValue("title"), c.FormValue("summary")
	pub := h.published()
	var m *course.Module
	var sec *course.Section
	var ok bool
	if needs != "" {
		if m, ok = pub.Course.AnyModule(module); !ok {
			return fiber.NewError(fiber.StatusNotFound, "no such module")
		}
	}
	if needs == "section" {
		if sec, ok = m.Section(section); !ok {
			return fiber.NewError(fiber.StatusNotFound, "no such section")
		}
	}
	d := &studioStructureData{Modules: pub.Course.AllModules()}
	if (op == "archive" || op == "module-archive" || op == "module-hide") && c.FormValue("confirm") != "1" {
		if op != "archive" {
			section = ""
		}
		n, err := h.progress.LearnersIn(c.UserContext(), module, section)
		if err != nil {
			return err
		}
		what := m.Title
		if sec != nil {
			what = sec.Title
		}
		d.Confirm = &structureConfirm{Op: op, Module: module, Section: section, Title: what, Learners: n}
		return h.renderPrivate(c, "studio_structure", "studio.structure.title", d)
	}
	var plan func(fstest.MapFS) ([]course.FileChange, error)
	done, target := "", module+"/"+section
	switch op {
	case "add":
		minutes, _ := strconv.Atoi(c.FormValue("minutes"))
		plan = func(t fstest.MapFS) ([]course.FileChange, error) {
			return course.AddSection(t, module, slug, title, minutes)
		}
		done, target = "added", module+"/"+slug
	case "rename":
		plan = func(t fstest.MapFS) ([]course.FileChange, error) {
			return course.RenameSection(t, module, section, slug)
		}
		done, target = "renamed", module+"/"+slug
	case "up", "down":
		delta := map[string]int{"up": -1, "down": 1}[op]
		plan = func(t fstest.MapFS) ([]course.FileChange, error) {
			return course.MoveSection(t, module, section, delta)
		}
		done = "moved"
	case "archive":
		plan = func(t fstest.MapFS) ([]course.FileChange, error) { return course.ArchiveSection(t, module, section) }
		done = "archived"
	case "module-up", "module-down":
		delta := map[string]int{"module-up": -1, "module-down": 1}[op]
		plan = func(t fstest.MapFS) ([]course.FileChange, error) { return course.MoveModule(t, module, delta) }
		done, target = "moved", module
	case "module-add":
		plan = func(t fstest.MapFS) ([]course.FileChange, error) { return course.AddModule(t, slug, title, summary) }
		done, target = "module-added", slug
	case "module-rename":
		plan = func(t fstest.MapFS) ([]course.FileChange, error) { return course.RenameModule(t, module, slug) }
		done, target = "module-renamed", slug
	case "module-show", "module-hide":
		hide := op == "module-hide"
		plan = func(t fstest.MapFS) ([]course.FileChange, error) { return course.SetModuleHidden(t, module, hide) }
		done, target = map[string]string{"module-show": "module-shown", "module-hide": "module-hidden"}[op], module
	case "module-archive":
		plan = func(t fstest.MapFS) ([]course.FileChange, error) { return course.ArchiveModule(t, module) }
		done, target = "module-archived", module
	}
	problems, err := store.PublishChanges(c.UserContext(), h.viewerOf(c).User.Email, plan)
	var refused *studio.RefusedError
	switch {
	case errors.As(err, &refused):
		_, msg, ok := h.refused(c, refused.Err)
		if !ok { // not a refusal but a failure (a file the plan needs is unreadable)
			return refused.Err
		}
		d.Error = msg
		return h.structureRefused(c, d)
	case err != nil: // studio.ErrChanged: 409
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			d.Problems = append(d.Problems, p.String())
		}
		return h.structureRefused(c, d)
	}
	// This instance serves the new course first, so that no learner writes
	// at an old address after the records move; other instances catch up
	// within seconds, and the periodic follow-up moves what they wrote.
	if err := h.contentChanged(c, "content.structure", target, op); err != nil {
		return err
	}
	switch op {
	case "rename", "module-rename":
		// The learners' progress and answers follow the new addresses.
		_, err = h.progress.FollowRedirects(c.UserContext(), h.published().Course.Redirects)
	case "archive", "module-archive":
		// Kept aside, so that a later page at the address starts afresh.
		if op == "module-archive" {
			section = ""
		}
		_, err = h.progress.SetAside(c.UserContext(), module, section, time.Now().UTC().Format("20060102T150405"))
	}
	if err != nil {
		return err
	}
	return c.Redirect("/studio/rakenne?ilmoitus="+done, fiber.StatusSeeOther)
}

// structureRefused shows the structure page with why a change was not
// made (422).
func (h *studioHandlers) structureRefused(c *fiber.Ctx, d *studioStructureData) error {
	if err := h.renderForm(c, fiber.StatusUnprocessableEntity, "studio_structure", "studio.structure.title", d); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return nil
}

// addFigure stores the uploaded image of a page's figure form (file, alt,
// caption, page) and returns the page and the ::kuva block for it. The
// alternative text is required.
func (h *studioHandlers) addFigure(c *fiber.Ctx) (page, block string, err error) {
	store, err := h.studioStore()
	if err != nil {
		return "", "", err
	}
	page = c.FormValue("page")
	if !studio.EditablePath(page) {
		return "", "", fiber.NewError(fiber.StatusNotFound, "no such content file")
	}
	if _, ok := h.published().Course.Files[page]; !ok {
		return "", "", fiber.NewError(fiber.StatusNotFound, "no such content file")
	}
	alt := strings.TrimSpace(c.FormValue("alt"))
	caption := strings.TrimSpace(c.FormValue("caption"))
	if alt == "" || len(alt) > 500 {
		return "", "", fiber.NewError(fiber.StatusUnprocessableEntity, "describe the image in its alternative text (1–500 characters): what it shows, for those who cannot see it")
	}
	if caption == "" || len(caption) > 300 {
		return "", "", fiber.NewError(fiber.StatusUnprocessableEntity, "give the figure a caption (1–300 characters)")
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return "", "", fiber.NewError(fiber.StatusBadRequest, "choose the image file")
	}
	if fh.Size > course.MaxFigureSize {
		return "", "", fiber.NewError(fiber.StatusRequestEntityTooLarge, "a figure must be at most 4 MiB")
	}
	f, err := fh.Open()
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, course.MaxFigureSize+1))
	if err != nil {
		return "", "", err
	}
	format, err := media.Sniff(data[:min(len(data), media.SniffLen)])
	if err != nil || format.Kind != media.KindImage {
		return "", "", fiber.NewError(fiber.StatusUnsupportedMediaType, "a figure must be a PNG, JPEG, WebP or SVG image")
	}
	var change course.FileChange
	var src string
	problems, err := store.PublishChanges(c.UserContext(), h.viewerOf(c).User.Email, func(t fstest.MapFS) ([]course.FileChange, error) {
		var err error
		change, src, err = course.AddFigure(t, page, fh.Filename, format.ContentType, data)
		return []course.FileChange{change}, err
	})
	var refused *studio.RefusedError
	switch {
	case errors.As(err, &refused):
		return "", "", refused.Err // a refusal answers with its own status and message
	case err != nil: // studio.ErrChanged: 409
		return "", "", err
	}
	if len(problems) > 0 {
		return "", "", fiber.NewError(fiber.StatusUnprocessableEntity, problems.Error())
	}
	if err := h.contentChanged(c, "content.figure", change.Path, ""); err != nil {
		return "", "", err
	}
	return page, course.FigureBlock(src, caption, alt), nil
}

// apiStudioFigure answers the ::kuva block of an uploaded figure (the
// editor's script puts it at the cursor).
func (h *studioHandlers) apiStudioFigure(c *fiber.Ctx) error {
	page, block, err := h.addFigure(c)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"page": page, "block": block})
}

// studioFigure is the form without the script: the block is added to the
// end of the page's draft, and the editor opens on it.
func (h *studioHandlers) studioFigure(c *fiber.Ctx) error {
	page, block, err := h.addFigure(c)
	if err != nil {
		return err
	}
	f, err := h.openStudioPath(c, page)
	if err != nil {
		return err
	}
	text, rev := f.text()
	d := &studio.Draft{Path: page, Data: text, BaseRev: rev}
	d.Data = strings.TrimRight(d.Data, "\n") + "\n\n" + block
	d.By = h.viewerOf(c).User.Email
	if err := f.store.SaveDraft(c.UserContext(), *d); err != nil {
		return err
	}
	return c.Redirect("/studio/sisalto/"+page+"?ilmoitus=kuva", fiber.StatusSeeOther)
}
