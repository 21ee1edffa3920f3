package api

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/web"
)

// adminHandlers serve the administration of accounts: the user list,
// roles, reset links, disabling, ending sessions and the audit log (the
// organisations are orgHandlers').
type adminHandlers struct {
	*core
	mail *mailer // the notice of a changed role; siteURL for reset links
	// exam (and the core's examRules) tell whether the user list offers
	// the exam's extension form.
	exam *exam.Store
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
	Pager     pager
}

// sortColumn is a sortable heading of the user list.
type sortColumn struct {
	Label, Href string
	Current     bool
	Order       string // aria-sort of the current column
}

func (h *adminHandlers) users(c *fiber.Ctx) error {
	return h.showUsers(c, &adminUsersData{})
}

func (h *adminHandlers) showUsers(c *fiber.Ctx, d *adminUsersData) error {
	d.Query = c.Query("q")
	if len(d.Query) > 100 {
		d.Query = d.Query[:100]
	}
	d.Sort = c.Query("jarjestys", account.SortEmail)
	if !account.ValidUserSort(d.Sort) {
		return fiber.NewError(fiber.StatusBadRequest, "jarjestys must be one of email, name, role, organisation, last_active")
	}
	users, next, err := h.accounts.UsersPage(c.UserContext(), d.Query, d.Sort, afterOf(c), listPageSize)
	if err != nil {
		return pageError(err)
	}
	d.Pager = pagerFor(c, "/yllapito/kayttajat", next)
	lang := h.lang(c)
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
		d.Notice = web.T(h.lang(c), "admin.role.changed")
	case "tentti":
		d.Notice = web.T(h.lang(c), "admin.exam.changed")
	case "tila":
		d.Notice = web.T(h.lang(c), "admin.disable.changed")
	case "istunnot":
		d.Notice = web.T(h.lang(c), "admin.sessions.ended")
	}
	_, err = h.examRules()
	d.Exam = h.exam != nil && err == nil
	return h.renderForm(c, 200, "admin_users", "admin.users.title", d)
}

func (h *adminHandlers) setRole(c *fiber.Ctx) error {
	u, err := h.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	role := c.FormValue("role")
	if !account.ValidRole(role) {
		return fiber.NewError(fiber.StatusBadRequest, "the role must be learner, author, reporter or admin")
	}
	if u.ID == h.viewerOf(c).User.ID && role != account.RoleAdmin {
		return fiber.NewError(fiber.StatusConflict, "you cannot take away your own administrator role")
	}
	if role == account.RoleReporter && !u.InListedOrganisation() {
		return fiber.NewError(fiber.StatusConflict, "a reporter must belong to a listed organisation: this account's organisation is free text (muu), which would show other organisations' learners")
	}
	if err := h.accounts.Audit(c.UserContext(), h.viewerOf(c).User.ID, "role.change", u.ID, u.Role+" → "+role); err != nil {
		return err
	}
	changed, err := h.accounts.SetRole(c.UserContext(), u.Email, role)
	if err != nil {
		return err
	}
	if u.Role != role {
		h.mail.notify(c.UserContext(), changed, "role_changed", map[string]string{"role": web.T(changed.MailLang(), "role."+role)})
	}
	return c.Redirect("/yllapito/kayttajat?ilmoitus=rooli", fiber.StatusSeeOther)
}

func (h *adminHandlers) resetLink(c *fiber.Ctx) error {
	u, err := h.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	if err := h.accounts.Audit(c.UserContext(), h.viewerOf(c).User.ID, "password.reset-link", u.ID, ""); err != nil {
		return err
	}
	token, _, err := h.accounts.IssueReset(c.UserContext(), u.Email, 24*time.Hour)
	if err != nil {
		return err
	}
	return h.showUsers(c, &adminUsersData{ResetLink: strings.TrimRight(h.mail.siteURL, "/") + "/salasana/uusi?token=" + token, ResetFor: u.Email})
}

type auditData struct {
	Entries []account.AuditEntry
	Names   map[string]string
	Pager   pager
}

// auditLog shows the administrative actions, newest first.
func (h *adminHandlers) auditLog(c *fiber.Ctx) error {
	entries, next, err := h.accounts.AuditPage(c.UserContext(), afterOf(c), listPageSize)
	if err != nil {
		return pageError(err)
	}
	names := map[string]string{}
	for _, e := range entries {
		for _, id := range []string{e.Actor, e.Target} {
			if _, seen := names[id]; !seen {
				if u, err := h.accounts.User(c.UserContext(), id); err == nil {
					names[id] = u.Name + " <" + u.Email + ">"
				} else {
					names[id] = id
				}
			}
		}
	}
	return h.renderForm(c, 200, "audit", "audit.title", &auditData{Entries: entries, Names: names, Pager: pagerFor(c, "/yllapito/loki", next)})
}

// disable disables an account (ending its sessions) or enables it:
// tila=pois|paalle.
func (h *adminHandlers) disable(c *fiber.Ctx) error {
	u, err := h.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	disable := c.FormValue("tila") != "paalle"
	if disable && u.ID == h.viewerOf(c).User.ID {
		return fiber.NewError(fiber.StatusConflict, "you cannot disable your own account")
	}
	action := "account.enable"
	if disable {
		action = "account.disable"
	}
	if err := h.accounts.Audit(c.UserContext(), h.viewerOf(c).User.ID, action, u.ID, ""); err != nil {
		return err
	}
	if err := h.accounts.SetDisabled(c.UserContext(), u.ID, disable); err != nil {
		return err
	}
	return c.Redirect("/yllapito/kayttajat?ilmoitus=tila", fiber.StatusSeeOther)
}

// endSessions signs a user out everywhere.
func (h *adminHandlers) endSessions(c *fiber.Ctx) error {
	u, err := h.accounts.User(c.UserContext(), c.Params("user"))
	if err != nil {
		return fiber.ErrNotFound
	}
	if err := h.accounts.Audit(c.UserContext(), h.viewerOf(c).User.ID, "sessions.end", u.ID, ""); err != nil {
		return err
	}
	if _, err := h.accounts.EndAllSessions(c.UserContext(), u.ID, ""); err != nil {
		return err
	}
	return c.Redirect("/yllapito/kayttajat?ilmoitus=istunnot", fiber.StatusSeeOther)
}
