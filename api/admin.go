package api

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/web"
)

// requireAdmin lets only administrators (with two-factor authentication,
// which requireUser enforces) through; others get 404, as if nothing were
// there.
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	return s.require(c, account.Administer)
}

// require lets through a viewer who may do p (account.User.Can, the one
// role policy); everyone else gets 404.
func (s *Server) require(c *fiber.Ctx, p account.Permission) error {
	if s.can(c, p) {
		return c.Next()
	}
	return fiber.ErrNotFound
}

// can: the viewer is signed in and may do p.
func (s *Server) can(c *fiber.Ctx, p account.Permission) bool {
	v := s.viewerOf(c)
	return v.signedIn() && v.User.Can(p)
}

type adminUsersData struct {
	Query     string
	Users     []account.User
	Roles     []string
	ResetLink string
	ResetFor  string
	Notice    string
	Errors    []fieldError
	Exam      bool // the extension form is shown
	Sort      string
	Columns   []sortColumn
}

// sortColumn is a sortable heading of the user list.
type sortColumn struct {
	Label, Href string
	Current     bool
	Order       string // aria-sort of the current column
}

func (s *Server) adminUsers(c *fiber.Ctx) error {
	return s.showAdminUsers(c, &adminUsersData{})
}

func (s *Server) showAdminUsers(c *fiber.Ctx, d *adminUsersData) error {
	d.Query = c.Query("q")
	if len(d.Query) > 100 {
		d.Query = d.Query[:100]
	}
	d.Sort = c.Query("jarjestys", account.SortEmail)
	if !account.ValidUserSort(d.Sort) {
		return fiber.NewError(fiber.StatusBadRequest, "jarjestys must be one of email, name, role, organisation, last_active")
	}
	users, err := s.accounts.UsersSorted(c.UserContext(), d.Query, d.Sort, 200)
	if err != nil {
		return err
	}
	lang := s.lang(c)
	for _, col := range []struct{ key, label string }{{account.SortName, "form.name"}, {account.SortEmail, "form.email"}, {account.SortRole, "admin.role"},
		{account.SortOrganisation, "reports.organisation"}, {account.SortLastActive, "admin.users.lastactive"}} {
		q := url.Values{"jarjestys": {col.key}}
		if d.Query != "" {
			q.Set("q", d.Query)
		}
		sc := sortColumn{Label: web.T(lang, col.label), Href: "/yllapito/kayttajat?" + q.Encode(), Current: col.key == d.Sort, Order: "ascending"}
		if col.key == account.SortLastActive {
			sc.Order = "descending"
		}
		d.Columns = append(d.Columns, sc)
	}
	d.Users, d.Roles = users, []string{account.RoleLearner, account.RoleReporter, account.RoleAuthor, account.RoleAdmin}
	switch c.Query("ilmoitus") {
	case "rooli":
		d.Notice = web.T(s.lang(c), "admin.role.changed")
	case "tentti":
		d.Notice = web.T(s.lang(c), "admin.exam.changed")
	case "tila":
		d.Notice = web.T(s.lang(c), "admin.disable.changed")
	case "istunnot":
		d.Notice = web.T(s.lang(c), "admin.sessions.ended")
	}
	_, err = s.examRules()
	d.Exam = s.exam != nil && err == nil
	return s.renderForm(c, 200, "admin_users", "admin.users.title", d)
}

func (s *Server) adminSetRole(c *fiber.Ctx) error {
	u, err := s.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	role := c.FormValue("role")
	if !account.ValidRole(role) {
		return fiber.NewError(fiber.StatusBadRequest, "the role must be learner, author, reporter or admin")
	}
	if u.ID == s.viewerOf(c).User.ID && role != account.RoleAdmin {
		return fiber.NewError(fiber.StatusConflict, "you cannot take away your own administrator role")
	}
	if role == account.RoleReporter && !u.InListedOrganisation() {
		return fiber.NewError(fiber.StatusConflict, "a reporter must belong to a listed organisation: this account's organisation is free text (muu), which would show other organisations' learners")
	}
	if err := s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, "role.change", u.ID, u.Role+" → "+role); err != nil {
		return err
	}
	changed, err := s.accounts.SetRole(c.UserContext(), u.Email, role)
	if err != nil {
		return err
	}
	if u.Role != role {
		s.notify(c.UserContext(), changed, "role_changed", map[string]string{"role": web.T(changed.MailLang(), "role."+role)})
	}
	return c.Redirect("/yllapito/kayttajat?ilmoitus=rooli", fiber.StatusSeeOther)
}

func (s *Server) adminReset(c *fiber.Ctx) error {
	u, err := s.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	if err := s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, "password.reset-link", u.ID, ""); err != nil {
		return err
	}
	token, _, err := s.accounts.IssueReset(c.UserContext(), u.Email, 24*time.Hour)
	if err != nil {
		return err
	}
	return s.showAdminUsers(c, &adminUsersData{ResetLink: strings.TrimRight(s.opts.BaseURL, "/") + "/salasana/uusi?token=" + token, ResetFor: u.Email})
}

type auditData struct {
	Entries []account.AuditEntry
	Names   map[string]string
}

// auditLog shows the administrative actions, newest first.
func (s *Server) auditLog(c *fiber.Ctx) error {
	entries, err := s.accounts.AuditLog(c.UserContext(), 500)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, e := range entries {
		for _, id := range []string{e.Actor, e.Target} {
			if _, seen := names[id]; !seen {
				if u, err := s.accounts.User(c.UserContext(), id); err == nil {
					names[id] = u.Name + " <" + u.Email + ">"
				} else {
					names[id] = id
				}
			}
		}
	}
	return s.renderForm(c, 200, "audit", "audit.title", &auditData{Entries: entries, Names: names})
}

// adminDisable disables an account (ending its sessions) or enables it:
// tila=pois|paalle.
func (s *Server) adminDisable(c *fiber.Ctx) error {
	u, err := s.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	disable := c.FormValue("tila") != "paalle"
	if disable && u.ID == s.viewerOf(c).User.ID {
		return fiber.NewError(fiber.StatusConflict, "you cannot disable your own account")
	}
	action := "account.enable"
	if disable {
		action = "account.disable"
	}
	if err := s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, action, u.ID, ""); err != nil {
		return err
	}
	if err := s.accounts.SetDisabled(c.UserContext(), u.ID, disable); err != nil {
		return err
	}
	return c.Redirect("/yllapito/kayttajat?ilmoitus=tila", fiber.StatusSeeOther)
}

// adminEndSessions signs a user out everywhere.
func (s *Server) adminEndSessions(c *fiber.Ctx) error {
	u, err := s.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	if err := s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, "sessions.end", u.ID, ""); err != nil {
		return err
	}
	if _, err := s.accounts.EndAllSessions(c.UserContext(), u.ID, ""); err != nil {
		return err
	}
	return c.Redirect("/yllapito/kayttajat?ilmoitus=istunnot", fiber.StatusSeeOther)
}

type organisationRow struct {
	Name     string
	Learners int
	Active   int // active in the last 30 days
}

// adminOrganisations lists the organisations with their learners.
func (s *Server) adminOrganisations(c *fiber.Ctx) error {
	rows, err := s.accounts.LearnerRows(c.UserContext())
	if err != nil {
		return err
	}
	counts := map[string]*organisationRow{}
	list := make([]*organisationRow, 0, len(account.Organisations)+1)
	for _, o := range account.OrganisationChoices() {
		r := &organisationRow{Name: o}
		counts[o] = r
		list = append(list, r)
	}
	since := time.Now().AddDate(0, 0, -30)
	for _, l := range rows {
		r, ok := counts[l.Organisation]
		if !ok {
			r = counts[account.OtherOrganisation]
		}
		r.Learners++
		if l.LastActive.After(since) {
			r.Active++
		}
	}
	return s.renderPrivate(c, "admin_organisations", "admin.orgs.title", list)
}
