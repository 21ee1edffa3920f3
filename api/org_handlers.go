package api

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/report"
	"github.com/tyokyky/tyokyky/sso"
	"github.com/tyokyky/tyokyky/web"
)

// orgHandlers serve the organisation directory: the list for the
// registration form (the API) and the administrators' pages.
type orgHandlers struct {
	*core
	dir *org.Directory
	sso *sso.Service // nil: no employer sign-in (no providers on the pages)
	// sums counts the organisations' learners (their summaries, as the
	// reports do; nil: none counted).
	sums *report.Summaries
}

// apiOrganisation is an active organisation as the registration form
// needs it: no domains, no history.
type apiOrganisation struct {
	Code   string      `json:"code"`
	Name   string      `json:"name"` // in the request's language
	NameFI string      `json:"name_fi"`
	NameSV string      `json:"name_sv,omitempty"`
	Units  []org.Entry `json:"units"`
}

// apiList is GET /api/v1/organisations: the active organisations with
// their units, depth first, for the registration form; "other" is the
// choice that takes free text.
func (h *orgHandlers) apiList(c *fiber.Ctx) error {
	ctx := c.UserContext()
	list, err := h.dir.List(ctx)
	if err != nil {
		return err
	}
	lang := h.lang(c)
	out := []apiOrganisation{}
	for _, o := range list {
		if !o.Active {
			continue
		}
		t, err := h.dir.Units(ctx, o.ID)
		if err != nil {
			return err
		}
		units := t.Flat()
		if units == nil {
			units = []org.Entry{}
		}
		out = append(out, apiOrganisation{Code: o.ID, Name: o.Name(lang), NameFI: o.NameFI, NameSV: o.NameSV, Units: units})
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	return c.JSON(fiber.Map{"organisations": out, "other": account.OtherOrganisation})
}

// orgRow is an organisation in the administrators' list, with its
// learners (accounts linked to it); the row without Org is everybody else
// (free text "muu").
type orgRow struct {
	Org      *org.Organisation
	Name     string
	Learners int
	Active   int // active in the last 30 days
}

type orgListData struct {
	Rows   []orgRow
	Values map[string]string
	Errors []fieldError
	Pager  pager
}

// adminList is GET /yllapito/organisaatiot: the directory with each
// organisation's learners, and the form that adds one.
func (h *orgHandlers) adminList(c *fiber.Ctx) error {
	return h.showList(c, fiber.StatusOK, &orgListData{})
}

func (h *orgHandlers) showList(c *fiber.Ctx, status int, d *orgListData) error {
	ctx := c.UserContext()
	list, next, err := h.dir.Page(ctx, afterOf(c), listPageSize)
	if err != nil {
		return pageError(err)
	}
	d.Pager = pagerFor(c, "/yllapito/organisaatiot", next)
	lang := h.lang(c)
	byCode := map[string]int{}
	for i := range list {
		byCode[list[i].ID] = i
		d.Rows = append(d.Rows, orgRow{Org: &list[i], Name: list[i].Name(lang)})
	}
	first := afterOf(c) == ""
	if first {
		// Everybody outside the directory, on the first page.
		d.Rows = append(d.Rows, orgRow{Name: web.T(lang, "reports.organisation.other")})
	}
	since := time.Now().AddDate(0, 0, -30)
	if _, err := h.sums.Read(ctx, time.Minute, func(all iter.Seq[*report.LearnerSummary]) {
		for l := range all {
			if l.Role != account.RoleLearner {
				continue
			}
			i, ok := byCode[l.OrgID]
			if !ok {
				// Organisations are never removed from the directory, so a
				// learner with one is on another page; without one, among
				// everybody else.
				if !first || l.OrgID != "" {
					continue
				}
				i = len(d.Rows) - 1
			}
			d.Rows[i].Learners++
			if l.LastActive.After(since) {
				d.Rows[i].Active++
			}
		}
	}); err != nil {
		return err
	}
	if status != fiber.StatusOK {
		return h.renderForm(c, status, "admin_organisations", "admin.orgs.title", d)
	}
	return h.renderPrivate(c, "admin_organisations", "admin.orgs.title", d)
}

// adminAdd is POST /yllapito/organisaatiot: a new organisation.
func (h *orgHandlers) adminAdd(c *fiber.Ctx) error {
	ctx := c.UserContext()
	o := org.Organisation{ID: strings.TrimSpace(c.FormValue("code")), NameFI: c.FormValue("name_fi"), NameSV: c.FormValue("name_sv"),
		Domains: strings.FieldsFunc(c.FormValue("domains"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }), Active: true}
	if err := h.accounts.Audit(ctx, h.viewerOf(c).User.ID, "org.add", o.ID, o.NameFI); err != nil {
		return err
	}
	added, errs := h.dir.Add(ctx, o)
	if len(errs) > 0 {
		d := &orgListData{Values: map[string]string{"code": c.FormValue("code"), "name_fi": o.NameFI, "name_sv": o.NameSV, "domains": c.FormValue("domains")}}
		if err := h.fieldErrors(c, errs, &d.Errors); err != nil {
			return err
		}
		return h.showList(c, fiber.StatusUnprocessableEntity, d)
	}
	return c.Redirect("/yllapito/organisaatiot/"+added.ID+"?ilmoitus=lisatty", fiber.StatusSeeOther)
}

// fieldErrors turns refusals into the form's messages; any other error
// is returned as a failure.
func (h *orgHandlers) fieldErrors(c *fiber.Ctx, errs []error, out *[]fieldError) error {
	lang := h.lang(c)
	for _, err := range errs {
		f, ok := fault.As(err)
		if !ok {
			return err
		}
		*out = append(*out, fieldError{Field: f.Field, Code: f.Code, Message: web.T(lang, f.MessageKey(), f.Args...)})
	}
	return nil
}

// unitChoice is a unit in a choice list: its id and its path.
type unitChoice struct {
	ID, Label string
	Depth     int
}

type orgPageData struct {
	SSO       bool // employer sign-in is on: the providers' part is shown
	Providers []providerRow
	Org       *org.Organisation
	Name      string
	Units     []unitChoice
	History   []unitHistory
	Values    map[string]string
	Errors    []fieldError
	Notice    string
}

// providerRow is an identity provider on the organisation's page.
type providerRow struct {
	org.Provider
	Callback string
}

// unitHistory is a unit that was renamed or moved, with its earlier
// names and places.
type unitHistory struct {
	Label   string
	Changes []string
}

// adminPage is GET /yllapito/organisaatiot/{org}: the organisation's
// names, domains and units, with the forms that change them.
func (h *orgHandlers) adminPage(c *fiber.Ctx) error {
	d := &orgPageData{}
	switch c.Query("ilmoitus") {
	case "lisatty":
		d.Notice = "admin.org.added"
	case "tallennettu":
		d.Notice = "admin.org.saved"
	case "tuotu":
		d.Notice = "admin.org.imported"
	}
	return h.showOrg(c, fiber.StatusOK, d)
}

func (h *orgHandlers) showOrg(c *fiber.Ctx, status int, d *orgPageData) error {
	ctx := c.UserContext()
	o, err := h.dir.Get(ctx, c.Params("org"))
	if errors.Is(err, org.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	t, err := h.dir.Units(ctx, o.ID)
	if err != nil {
		return err
	}
	lang := h.lang(c)
	d.Org, d.Name = o, o.Name(lang)
	for _, e := range t.Flat() {
		d.Units = append(d.Units, unitChoice{ID: e.ID, Label: strings.Join(e.Path, " › "), Depth: e.Depth})
		if u := t.Unit(e.ID); len(u.History) > 1 {
			hist := unitHistory{Label: strings.Join(e.Path, " › ")}
			for _, ch := range u.History[:len(u.History)-1] {
				place := web.T(lang, "admin.org.units.top")
				if p := t.Path(ch.Parent); len(p) > 0 {
					place = strings.Join(p, " › ")
				}
				hist.Changes = append(hist.Changes, web.T(lang, "admin.org.units.was", i18n.Date(lang, ch.At), ch.Name, place))
			}
			d.History = append(d.History, hist)
		}
	}
	if h.sso != nil {
		d.SSO = true
		ps, err := h.dir.Providers(ctx, o.ID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			d.Providers = append(d.Providers, providerRow{Provider: p, Callback: h.sso.CallbackURL(p.ID)})
		}
	}
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	if _, ok := d.Values["name_fi"]; !ok {
		d.Values["name_fi"], d.Values["name_sv"] = o.NameFI, o.NameSV
	}
	if status != fiber.StatusOK {
		return h.renderForm(c, status, "admin_organisation", "admin.org.title", d)
	}
	return h.renderPrivate(c, "admin_organisation", "admin.org.title", d)
}

// adminChange is POST /yllapito/organisaatiot/{org}: one change, said by
// the form's toiminto: tiedot (names, active), lisaa-verkkotunnus,
// poista-verkkotunnus, lisaa-yksikko, muuta-yksikko (rename and move),
// tuo-yksikot (units CSV pasted). Every change is audited.
func (h *orgHandlers) adminChange(c *fiber.Ctx) error {
	ctx := c.UserContext()
	o, err := h.dir.Get(ctx, c.Params("org"))
	if errors.Is(err, org.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	actor := h.viewerOf(c).User.ID
	action := c.FormValue("toiminto")
	var detail string
	var do func() error
	notice := "tallennettu"
	switch action {
	case "tiedot":
		active := c.FormValue("active") == "on"
		detail = fmt.Sprintf("%s / %s active=%v", c.FormValue("name_fi"), c.FormValue("name_sv"), active)
		do = func() error { return h.dir.Update(ctx, o.ID, c.FormValue("name_fi"), c.FormValue("name_sv"), active) }
	case "lisaa-verkkotunnus":
		detail = c.FormValue("domain")
		do = func() error { return h.dir.AddDomain(ctx, o.ID, c.FormValue("domain")) }
	case "poista-verkkotunnus":
		detail = c.FormValue("domain")
		do = func() error { return h.dir.RemoveDomain(ctx, o.ID, c.FormValue("domain")) }
	case "lisaa-yksikko":
		detail = c.FormValue("unit_name")
		do = func() error {
			_, err := h.dir.AddUnit(ctx, o.ID, c.FormValue("parent"), c.FormValue("unit_name"), actor)
			return err
		}
	case "muuta-yksikko":
		unit, name, parent := c.FormValue("unit"), c.FormValue("new_name"), c.FormValue("new_parent")
		detail = unit + " → " + name + " @ " + parent
		do = func() error {
			if strings.TrimSpace(name) != "" {
				if err := h.dir.RenameUnit(ctx, o.ID, unit, name, actor); err != nil {
					return err
				}
			}
			if parent != "=" { // "=" keeps the unit where it is
				return h.dir.MoveUnit(ctx, o.ID, unit, parent, actor)
			}
			return nil
		}
	case "tuo-yksikot":
		detail = fmt.Sprintf("%d bytes", len(c.FormValue("csv")))
		notice = "tuotu"
		do = func() error {
			rows, err := org.ReadUnitsCSV(strings.NewReader(c.FormValue("csv")))
			if err != nil {
				return err
			}
			_, err = h.dir.ImportUnits(ctx, o.ID, rows, actor)
			return err
		}
	case "lisaa-tunnistus":
		if h.sso == nil {
			return fiber.ErrNotFound
		}
		detail = c.FormValue("provider_id") + " " + c.FormValue("issuer")
		do = func() error {
			_, errs := h.sso.AddProvider(ctx, org.Provider{ID: strings.TrimSpace(c.FormValue("provider_id")), Org: o.ID, Issuer: c.FormValue("issuer"),
				ClientID: c.FormValue("client_id"), Scopes: []string{c.FormValue("scopes")},
				Claims:        org.Claims{Email: c.FormValue("claim_email"), Name: c.FormValue("claim_name"), Unit: c.FormValue("claim_unit"), Groups: c.FormValue("claim_groups"), Verified: c.FormValue("claim_verified")},
				ReporterGroup: strings.TrimSpace(c.FormValue("reporter_group")), TrustMFA: c.FormValue("trust_mfa") == "on"},
				c.FormValue("client_secret"))
			if len(errs) > 0 {
				return errs[0]
			}
			return nil
		}
	case "vaadi-sso":
		if h.sso == nil {
			return fiber.ErrNotFound
		}
		required := c.FormValue("required") == "on"
		detail = fmt.Sprintf("required=%v", required)
		do = func() error { return h.dir.SetSSORequired(ctx, o.ID, required) }
	case "tehtavamuistutukset":
		required := c.FormValue("reminders_required") == "on"
		detail = fmt.Sprintf("assignment reminders required=%v", required)
		do = func() error { return h.dir.SetAssignmentRemindersRequired(ctx, o.ID, required) }
	default:
		return fiber.NewError(fiber.StatusBadRequest, "toiminto must be tiedot, lisaa-verkkotunnus, poista-verkkotunnus, lisaa-yksikko, muuta-yksikko, tuo-yksikot, lisaa-tunnistus, vaadi-sso or tehtavamuistutukset")
	}
	if err := h.accounts.Audit(ctx, actor, "org."+action, o.ID, detail); err != nil {
		return err
	}
	if err := do(); err != nil {
		d := &orgPageData{Values: map[string]string{}}
		for _, k := range []string{"name_fi", "name_sv", "domain", "unit_name", "parent", "unit", "new_name", "new_parent", "csv",
			"provider_id", "issuer", "client_id", "scopes", "claim_email", "claim_name", "claim_unit", "claim_groups", "claim_verified", "reporter_group"} { // never the client secret
			if v := c.FormValue(k); v != "" || k == "name_sv" && action == "tiedot" {
				d.Values[k] = v
			}
		}
		if ferr := h.fieldErrors(c, []error{err}, &d.Errors); ferr != nil {
			return ferr
		}
		return h.showOrg(c, fiber.StatusUnprocessableEntity, d)
	}
	return c.Redirect("/yllapito/organisaatiot/"+o.ID+"?ilmoitus="+notice, fiber.StatusSeeOther)
}

// orgChoice is an organisation in the registration and account forms,
// with its units.
type orgChoice struct {
	Value, Name string
	Units       []unitChoice
}

// orgChoices are the active organisations of the directory (without one,
// the old list) for the forms, named in lang.
func orgChoices(ctx context.Context, dir *org.Directory, lang string) ([]orgChoice, error) {
	if dir == nil {
		var out []orgChoice
		for _, o := range account.Organisations {
			out = append(out, orgChoice{Value: o, Name: o})
		}
		return out, nil
	}
	list, err := dir.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []orgChoice{}
	for _, o := range list {
		if !o.Active {
			continue
		}
		t, err := dir.Units(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		ch := orgChoice{Value: o.ID, Name: o.Name(lang)}
		for _, e := range t.Flat() {
			ch.Units = append(ch.Units, unitChoice{ID: o.ID + "/" + e.ID, Label: strings.Join(e.Path, " › "), Depth: e.Depth})
		}
		out = append(out, ch)
	}
	return out, nil
}

// resolveOrganisation checks a form's organisation (a short code, or a
// name of the old list, as older clients send) and unit ("code/unit" or
// "") against the directory and fills r's organisation fields. An
// unknown or inactive organisation leaves r's organisation empty (so
// Validate refuses it); a unit of another organisation is
// org.ErrUnitNotFound.
func resolveOrganisation(ctx context.Context, dir *org.Directory, r *account.Registration, unit string) error {
	if dir == nil || r.Organisation == account.OtherOrganisation {
		return nil
	}
	o, err := dir.Get(ctx, r.Organisation)
	if errors.Is(err, org.ErrNotFound) {
		o, err = dir.ByLegacy(ctx, r.Organisation)
	}
	if errors.Is(err, org.ErrNotFound) || err == nil && !o.Active {
		r.Organisation, r.OrgID = "", ""
		return nil
	}
	if err != nil {
		return err
	}
	r.OrgID, r.Organisation = o.ID, o.NameFI
	if o.Legacy != "" {
		r.Organisation = o.Legacy // the reports group by the name accounts stored
	}
	if unit == "" {
		return nil
	}
	code, id, ok := strings.Cut(unit, "/")
	if !ok || code != o.ID {
		return org.ErrUnitNotFound
	}
	if _, err := dir.Unit(ctx, o.ID, id); err != nil {
		return err
	}
	r.UnitID = id
	return nil
}
