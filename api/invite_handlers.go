package api

import (
	"context"
	"errors"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/web"
)

// invite is POST /raportit/kutsut: invitations from a CSV file (uploaded
// as "file" or pasted as "csv"): the whole file is checked, every problem
// shown with its line, and only a good file is stored; each invitation
// then goes out by e-mail with its single-use link.
func (h *assignHandlers) invite(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s, err := h.scope(c)
	if err != nil {
		return err
	}
	if s.Org == nil {
		return fiber.NewError(fiber.StatusBadRequest, "organisaatio is required")
	}
	pasted := c.FormValue("csv")
	var src io.Reader = strings.NewReader(pasted)
	if fh, err := c.FormFile("file"); err == nil && fh.Size > 0 {
		f, err := fh.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	rows, errs := assign.ReadInvitations(src, s.Tree, s.Units)
	var issued []assign.Issued
	if len(errs) == 0 {
		h.forgetMembers(s.Org.ID) // the people as they are now
		members, err := h.orgMembers(c, s.Org.ID)
		if err != nil {
			return err
		}
		emails := make(map[string]bool, len(members))
		for _, m := range members {
			emails[strings.ToLower(m.Email)] = true
		}
		issued, errs = h.assign.Invite(ctx, s.Org.ID, h.viewerOf(c).User.ID, h.lang(c), rows, emails)
	}
	if len(errs) > 0 {
		d := &assignListData{Values: map[string]string{"kind": assign.KindUnit, "subunits": "on", "csv": pasted}}
		if err := fieldErrorsOf(h.lang(c), errs, &d.Errors); err != nil {
			return err
		}
		return h.showList(c, fiber.StatusUnprocessableEntity, d)
	}
	h.audit(c, "invitation.create", s.Org.ID, strconv.Itoa(len(issued))+" invitations")
	lang := h.lang(c)
	if len(issued) > 0 {
		if err := queueInvitations(ctx, h.mail, lang, s.Org.Name(lang), s.Tree, issued); err != nil {
			return err // the assignment reminders' sweep queues the rest
		}
		if err := h.assign.InvitationsMailed(ctx, issued[0].Batch); err != nil {
			return err
		}
	}
	return c.Redirect("/raportit/tehtavat"+h.orgQuery(s, "?")+"kutsuttu="+strconv.Itoa(len(issued)), fiber.StatusSeeOther)
}

// inviteHandlers answer the invitation link: the form that makes the
// account, or the organisation's own sign-in.
type inviteHandlers struct {
	*core
	dir    *org.Directory
	assign *assign.Store
}

type invitationData struct {
	Token, Email, Org, Unit string
	// SSO is the organisation's own sign-in for the address, when it has
	// one for its domain ("": none).
	SSO string
	// Join: the invited address is signed in; the form moves the
	// account to the unit.
	Join   bool
	Values map[string]string
	Errors []fieldError
}

// page is GET /kutsu?token=: the invitation's form (name and password)
// that makes the account in the unit, or, for an organisation whose
// people sign in with its identity provider, that sign-in. Showing it
// uses nothing up: mail scanners open links too.
func (h *inviteHandlers) page(c *fiber.Ctx) error {
	inv, o, err := h.invitation(c, c.Query("token"))
	if err != nil || inv == nil {
		return err
	}
	if v := h.viewerOf(c); v.User != nil {
		return h.showSignedIn(c, fiber.StatusOK, inv, o, v.User)
	}
	if o.SSORequired && slices.Contains(o.Domains, org.DomainOf(inv.Email)) {
		return c.Redirect(ssoLink(inv.Email, c.Query("token")), fiber.StatusSeeOther)
	}
	return h.show(c, fiber.StatusOK, inv, o, &invitationData{Values: map[string]string{"name": inv.Name}})
}

// invitation is the link's pending invitation and its organisation; a
// link that does not work answers the notice that says so (inv nil).
func (h *inviteHandlers) invitation(c *fiber.Ctx, token string) (*assign.Invitation, *org.Organisation, error) {
	inv, err := h.assign.Invitation(c.UserContext(), token)
	if errors.Is(err, assign.ErrInviteLink) {
		return nil, nil, h.linkFailed(c)
	}
	if err != nil {
		return nil, nil, err
	}
	o, err := h.dir.Get(c.UserContext(), inv.Org)
	if err != nil {
		return nil, nil, err
	}
	return inv, o, nil
}

func (h *inviteHandlers) linkFailed(c *fiber.Ctx) error {
	lang := h.lang(c)
	return h.notice(c, fiber.StatusBadRequest, "invite.title", noticeData{Paragraphs: []string{web.T(lang, "fault.invite_link"), web.T(lang, "invite.ask")}})
}

func (h *inviteHandlers) show(c *fiber.Ctx, status int, inv *assign.Invitation, o *org.Organisation, d *invitationData) error {
	lang := h.lang(c)
	d.Token, d.Email, d.Org = c.Query("token"), inv.Email, o.Name(lang)
	if d.Token == "" {
		d.Token = c.FormValue("token")
	}
	if t, err := h.dir.Tree(c.UserContext(), o.ID); err == nil {
		d.Unit = strings.Join(t.Path(inv.Unit), " › ")
	}
	if slices.Contains(o.Domains, org.DomainOf(inv.Email)) {
		if ps, err := h.dir.Providers(c.UserContext(), o.ID); err == nil && slices.ContainsFunc(ps, func(p org.Provider) bool { return p.Active }) {
			d.SSO = ssoLink(inv.Email, d.Token)
		}
	}
	c.Set("Referrer-Policy", "no-referrer") // the token is in the address
	return h.renderForm(c, status, "invitation", "invite.title", d)
}

// ssoLink is the organisation's sign-in for the invited address, which
// comes back to the invitation (signed in, the person then joins its
// unit).
func ssoLink(email, token string) string {
	return "/kirjaudu/sso?email=" + url.QueryEscape(email) + "&jatka=" + url.QueryEscape("/kutsu?token="+token)
}

// showSignedIn answers the link of a person signed in already (with
// their organisation's sign-in, or an account they had): the invited
// address's account is offered to join the invitation's unit; another
// account is told to sign out first.
func (h *inviteHandlers) showSignedIn(c *fiber.Ctx, status int, inv *assign.Invitation, o *org.Organisation, u *account.User) error {
	lang := h.lang(c)
	if !strings.EqualFold(u.Email, inv.Email) {
		return h.notice(c, fiber.StatusForbidden, "invite.title", noticeData{Paragraphs: []string{web.T(lang, "invite.other", inv.Email)}})
	}
	return h.show(c, status, inv, o, &invitationData{Join: true})
}

// accept is POST /kutsu: makes the account in the invitation's unit, or
// (signed in with the invited address) moves the account there. The
// link's use is claimed by an insert only after the form is good, so a
// mistyped password does not spend it.
func (h *inviteHandlers) accept(c *fiber.Ctx) error {
	ctx := c.UserContext()
	token := c.FormValue("token")
	inv, o, err := h.invitation(c, token)
	if err != nil || inv == nil {
		return err
	}
	if v := h.viewerOf(c); v.User != nil {
		return h.join(c, token, inv, o, v.User)
	}
	r := account.Registration{Email: inv.Email, Name: c.FormValue("name"), Password: c.FormValue("password"), Organisation: inv.Org, Lang: h.lang(c)}
	unit := inv.Org + "/" + inv.Unit
	if _, err := h.dir.Unit(ctx, inv.Org, inv.Unit); err != nil {
		unit = "" // a unit removed since: the organisation only
	}
	if err := resolveOrganisation(ctx, h.dir, &r, unit); err != nil {
		return err
	}
	if errs := r.Validate(); len(errs) > 0 {
		d := &invitationData{Values: map[string]string{"name": c.FormValue("name")}}
		lang := h.lang(c)
		for _, e := range errs {
			field, key := errorMessage(e)
			if key == "err.500" {
				return e
			}
			d.Errors = append(d.Errors, fieldError{Field: field, Message: web.T(lang, key)})
		}
		return h.show(c, fiber.StatusUnprocessableEntity, inv, o, d)
	}
	if _, err := h.assign.UseInvitation(ctx, token); err != nil {
		if errors.Is(err, assign.ErrInviteLink) {
			return h.linkFailed(c) // used meanwhile (another tab)
		}
		return err
	}
	lang := h.lang(c)
	if _, errs := h.accounts.Register(ctx, r); len(errs) > 0 {
		if errors.Is(errs[0], account.ErrEmailTaken) {
			return h.notice(c, fiber.StatusOK, "invite.title", noticeData{Paragraphs: []string{web.T(lang, "invite.exists")}, Link: "/kirjaudu", LinkLabel: web.T(lang, "invite.signin")})
		}
		return errs[0]
	}
	return h.notice(c, fiber.StatusOK, "invite.title", noticeData{Paragraphs: []string{web.T(lang, "invite.done", o.Name(lang))}, Link: "/kirjaudu", LinkLabel: web.T(lang, "invite.signin")})
}

// queueInvitations queues the e-mail of each invitation (one message a
// link: queued again, it is not sent twice).
func queueInvitations(ctx context.Context, m *mailer, lang, orgName string, t *org.Tree, issued []assign.Issued) error {
	for _, inv := range issued {
		unit := ""
		if t != nil {
			unit = strings.Join(t.Path(inv.Unit), " › ")
		}
		if err := m.mailTo(ctx, inv.Email, inv.Name, lang, "", "invitation", inv.MailKey(), map[string]string{
			"link": m.link("/kutsu?token=" + url.QueryEscape(inv.Token)), "org": orgName, "unit": unit,
			"expires": i18n.Date(lang, inv.Expires)}); err != nil {
			return err
		}
	}
	return nil
}

// join moves the signed-in account of the invited address to the
// invitation's organisation and unit, and spends the link.
func (h *inviteHandlers) join(c *fiber.Ctx, token string, inv *assign.Invitation, o *org.Organisation, u *account.User) error {
	ctx := c.UserContext()
	lang := h.lang(c)
	if !strings.EqualFold(u.Email, inv.Email) {
		return h.notice(c, fiber.StatusForbidden, "invite.title", noticeData{Paragraphs: []string{web.T(lang, "invite.other", inv.Email)}})
	}
	r := account.Registration{Organisation: inv.Org}
	unit := inv.Org + "/" + inv.Unit
	if _, err := h.dir.Unit(ctx, inv.Org, inv.Unit); err != nil {
		unit = "" // a unit removed since: the organisation only
	}
	if err := resolveOrganisation(ctx, h.dir, &r, unit); err != nil {
		return err
	}
	if r.OrgID == "" {
		return h.linkFailed(c) // the organisation was closed since
	}
	if _, err := h.assign.UseInvitation(ctx, token); err != nil {
		if errors.Is(err, assign.ErrInviteLink) {
			return h.linkFailed(c)
		}
		return err
	}
	if err := h.accounts.SetOrganisation(ctx, u.ID, r.Organisation, "", r.OrgID, r.UnitID); err != nil {
		return err
	}
	h.audit(c, "invitation.join", u.ID, inv.Org+"/"+r.UnitID)
	d := noticeData{Paragraphs: []string{web.T(lang, "invite.joined", o.Name(lang))}, Link: "/omat-opinnot", LinkLabel: web.T(lang, "invite.studies")}
	if t, err := h.dir.Tree(ctx, o.ID); err == nil && r.UnitID != "" {
		d.Paragraphs[0] = web.T(lang, "invite.joined.unit", o.Name(lang), strings.Join(t.Path(r.UnitID), " › "))
	}
	return h.notice(c, fiber.StatusOK, "invite.title", d)
}
