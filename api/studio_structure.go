package api

import (
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/media"
)

type studioStructureData struct {
	Modules  []*course.Module
	Notice   string
	Problems []string
	Error    string
	// Confirm asks before archiving a section: how many learners have
	// progress in it.
	Confirm *archiveConfirm
}

type archiveConfirm struct {
	Module, Section, Title string
	Learners               int
}

// studioStructure shows the modules and their sections with the forms
// that add, rename, move and archive sections.
func (s *Server) studioStructure(c *fiber.Ctx) error {
	if _, err := s.studioStore(); err != nil {
		return err
	}
	d := &studioStructureData{Modules: s.published().Course.Modules}
	switch n := c.Query("ilmoitus"); n {
	case "added", "renamed", "moved", "archived":
		d.Notice = "studio.structure.done." + n
	}
	return s.renderPrivate(c, "studio_structure", "studio.structure.title", d)
}

// studioStructureChange makes one change: op=add|rename|up|down|archive.
// Archiving asks first, saying how many learners have progress there.
func (s *Server) studioStructureChange(c *fiber.Ctx) error {
	store, err := s.studioStore()
	if err != nil {
		return err
	}
	op := c.FormValue("op")
	module, section := strings.Clone(c.FormValue("module")), strings.Clone(c.FormValue("section"))
	pub := s.published()
	m, ok := pub.Course.Module(module)
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "no such module")
	}
	var sec *course.Section
	if op != "add" && op != "module-up" && op != "module-down" {
		if sec, ok = m.Section(section); !ok {
			return fiber.NewError(fiber.StatusNotFound, "no such section")
		}
	}
	d := &studioStructureData{Modules: pub.Course.Modules}
	if op == "archive" && c.FormValue("confirm") != "1" {
		n, err := s.progress.LearnersIn(c.UserContext(), module, section)
		if err != nil {
			return err
		}
		d.Confirm = &archiveConfirm{Module: module, Section: section, Title: sec.Title, Learners: n}
		return s.renderPrivate(c, "studio_structure", "studio.structure.title", d)
	}
	tree, err := s.tree(c)
	if err != nil {
		return err
	}
	var changes []course.FileChange
	var done string
	switch op {
	case "add":
		minutes, _ := strconv.Atoi(c.FormValue("minutes"))
		changes, err = course.AddSection(tree, module, strings.TrimSpace(c.FormValue("slug")), c.FormValue("title"), minutes)
		done = "added"
	case "rename":
		changes, err = course.RenameSection(tree, module, section, strings.TrimSpace(c.FormValue("slug")))
		done = "renamed"
	case "up", "down":
		delta := -1
		if op == "down" {
			delta = 1
		}
		changes, err = course.MoveSection(tree, module, section, delta)
		done = "moved"
	case "archive":
		changes, err = course.ArchiveSection(tree, module, section)
		done = "archived"
	case "module-up", "module-down":
		delta := -1
		if op == "module-down" {
			delta = 1
		}
		changes, err = course.MoveModule(tree, module, delta)
		done = "moved"
	default:
		return fiber.NewError(fiber.StatusBadRequest, "op must be add, rename, up, down, archive, module-up or module-down")
	}
	if err != nil {
		d.Error = err.Error()
		if err := s.renderForm(c, fiber.StatusUnprocessableEntity, "studio_structure", "studio.structure.title", d); err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "private, no-store")
		return nil
	}
	problems, err := store.PublishChanges(c.UserContext(), changes, s.viewerOf(c).User.Email)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			d.Problems = append(d.Problems, p.String())
		}
		if err := s.renderForm(c, fiber.StatusUnprocessableEntity, "studio_structure", "studio.structure.title", d); err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "private, no-store")
		return nil
	}
	target := module + "/" + section
	if op == "add" || op == "rename" {
		target = module + "/" + strings.TrimSpace(c.FormValue("slug"))
	}
	if op == "rename" {
		// The learners' progress and answers follow the section.
		if _, err := s.progress.RenameSection(c.UserContext(), module, section, strings.TrimSpace(c.FormValue("slug"))); err != nil {
			return err
		}
	}
	if err := s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, "content.structure", target, op); err != nil {
		return err
	}
	if err := s.library.Refresh(c.UserContext()); err != nil {
		return err
	}
	return c.Redirect("/studio/rakenne?ilmoitus="+done, fiber.StatusSeeOther)
}

// redirected answers a moved module or section address with where it
// moved (redirects.yaml), or false.
func (s *Server) redirected(c *fiber.Ctx) (bool, error) {
	pub := s.published()
	if pub == nil || pub.Course.Redirects == nil {
		return false, nil
	}
	if to, ok := pub.Course.Redirects[strings.TrimSuffix(c.Path(), "/")]; ok {
		return true, c.Redirect(to, fiber.StatusMovedPermanently)
	}
	return false, nil
}

// addFigure stores the uploaded image of a page's figure form (file, alt,
// caption, page) and returns the page and the ::kuva block for it. The
// alternative text is required.
func (s *Server) addFigure(c *fiber.Ctx) (page, block string, err error) {
	store, err := s.studioStore()
	if err != nil {
		return "", "", err
	}
	page = strings.Clone(c.FormValue("page"))
	if !course.EditablePath(page) {
		return "", "", fiber.NewError(fiber.StatusNotFound, "no such content file")
	}
	if _, ok := s.published().Course.Files[page]; !ok {
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
	tree, err := s.tree(c)
	if err != nil {
		return "", "", err
	}
	change, src, err := course.AddFigure(tree, page, fh.Filename, format.ContentType, data)
	if err != nil {
		return "", "", fiber.NewError(fiber.StatusUnprocessableEntity, err.Error())
	}
	problems, err := store.PublishChanges(c.UserContext(), []course.FileChange{change}, s.viewerOf(c).User.Email)
	if err != nil {
		return "", "", err
	}
	if len(problems) > 0 {
		return "", "", fiber.NewError(fiber.StatusUnprocessableEntity, problems.Error())
	}
	if err := s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, "content.figure", change.Path, ""); err != nil {
		return "", "", err
	}
	if err := s.library.Refresh(c.UserContext()); err != nil {
		return "", "", err
	}
	return page, course.FigureBlock(src, caption, alt), nil
}

// apiStudioFigure answers the ::kuva block of an uploaded figure (the
// editor's script puts it at the cursor).
func (s *Server) apiStudioFigure(c *fiber.Ctx) error {
	page, block, err := s.addFigure(c)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"page": page, "block": block})
}

// studioFigure is the form without the script: the block is added to the
// end of the page's draft, and the editor opens on it.
func (s *Server) studioFigure(c *fiber.Ctx) error {
	page, block, err := s.addFigure(c)
	if err != nil {
		return err
	}
	store, err := s.studioStore()
	if err != nil {
		return err
	}
	d, err := store.DraftOf(c.UserContext(), page)
	if err != nil {
		return err
	}
	if d == nil {
		data, rev, err := store.File(c.UserContext(), page)
		if err != nil {
			return err
		}
		d = &course.Draft{Path: page, Data: string(data), BaseRev: rev}
	}
	d.Data = strings.TrimRight(d.Data, "\n") + "\n\n" + block
	d.By = s.viewerOf(c).User.Email
	if err := store.SaveDraft(c.UserContext(), *d); err != nil {
		return err
	}
	return c.Redirect("/studio/sisalto/"+page+"?ilmoitus=kuva", fiber.StatusSeeOther)
}
