package api

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
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
	if op != "add" {
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
	default:
		return fiber.NewError(fiber.StatusBadRequest, "op must be add, rename, up, down or archive")
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
