package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/web"
	"github.com/tyokyky/tyokyky/xapi"
)

// xapiHandlers serve the administrators' page of the learning record
// stores statements go to (/yllapito/xapi).
type xapiHandlers struct {
	*core
	xapi *xapi.Service
}

// xapiRow is a configured LRS with its queue's counts.
type xapiRow struct {
	xapi.LRS
	Pending, Failed int
}

type xapiAdminData struct {
	Rows   []xapiRow
	Values map[string]string
	Errors []fieldError
	Notice string
}

// admin is GET /yllapito/xapi: the configured stores (the passwords only
// as "set"), their queues (waiting and given up), and the form that adds
// one.
func (h *xapiHandlers) admin(c *fiber.Ctx) error {
	d := &xapiAdminData{}
	switch c.Query("ilmoitus") {
	case "lisatty":
		d.Notice = "admin.xapi.added"
	case "tallennettu":
		d.Notice = "admin.xapi.saved"
	}
	return h.showAdmin(c, fiber.StatusOK, d)
}

func (h *xapiHandlers) showAdmin(c *fiber.Ctx, status int, d *xapiAdminData) error {
	ctx := c.UserContext()
	lrss, err := h.xapi.LRSs(ctx)
	if err != nil {
		return err
	}
	queued, err := h.xapi.Queued(ctx)
	if err != nil {
		return err
	}
	for _, l := range lrss {
		row := xapiRow{LRS: l}
		for _, q := range queued {
			if q.LRS != l.ID {
				continue
			}
			switch q.State {
			case xapi.StatePending:
				row.Pending++
			case xapi.StateFailed:
				row.Failed++
			}
		}
		d.Rows = append(d.Rows, row)
	}
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	if status != fiber.StatusOK {
		return h.renderForm(c, status, "admin_xapi", "admin.xapi.title", d)
	}
	return h.renderPrivate(c, "admin_xapi", "admin.xapi.title", d)
}

// fieldErrors turns refusals into the form's messages.
func (h *xapiHandlers) fieldErrors(c *fiber.Ctx, errs []error, d *xapiAdminData) error {
	lang := h.lang(c)
	for _, err := range errs {
		f, ok := fault.As(err)
		if !ok {
			return err
		}
		d.Errors = append(d.Errors, fieldError{Field: f.Field, Code: f.Code, Message: web.T(lang, f.MessageKey(), f.Args...)})
	}
	return nil
}

// adminAdd is POST /yllapito/xapi: a store added (its password sealed).
func (h *xapiHandlers) adminAdd(c *fiber.Ctx) error {
	ctx := c.UserContext()
	l := xapi.LRS{Name: c.FormValue("name"), Endpoint: c.FormValue("endpoint"), Username: c.FormValue("username"), Actor: c.FormValue("actor")}
	if err := h.accounts.Audit(ctx, h.viewerOf(c).User.ID, "xapi.add", strings.TrimSpace(l.Endpoint), fmt.Sprintf("%s user=%s actor=%s", l.Name, l.Username, l.Actor)); err != nil {
		return err
	}
	if _, errs := h.xapi.AddLRS(ctx, l, c.FormValue("password")); len(errs) > 0 {
		d := &xapiAdminData{Values: map[string]string{}}
		for _, k := range []string{"name", "endpoint", "username", "actor"} { // never the password
			d.Values[k] = c.FormValue(k)
		}
		if err := h.fieldErrors(c, errs, d); err != nil {
			return err
		}
		return h.showAdmin(c, fiber.StatusUnprocessableEntity, d)
	}
	return c.Redirect("/yllapito/xapi?ilmoitus=lisatty", fiber.StatusSeeOther)
}

// adminChange is POST /yllapito/xapi/{lrs}: its name, endpoint, user
// name, actor, whether it is active, and a new password (empty: kept).
func (h *xapiHandlers) adminChange(c *fiber.Ctx) error {
	ctx := c.UserContext()
	old, err := h.xapi.LRS(ctx, c.Params("lrs"))
	if errors.Is(err, xapi.ErrLRSNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	l := xapi.LRS{ID: old.ID, Name: c.FormValue("name"), Endpoint: c.FormValue("endpoint"), Username: c.FormValue("username"), Actor: c.FormValue("actor"),
		Active: c.FormValue("active") == "on"}
	password := c.FormValue("password")
	if err := h.accounts.Audit(ctx, h.viewerOf(c).User.ID, "xapi.change", strings.TrimSpace(l.Endpoint),
		fmt.Sprintf("%s user=%s actor=%s active=%v password_changed=%v", l.Name, l.Username, l.Actor, l.Active, password != "")); err != nil {
		return err
	}
	if _, errs := h.xapi.ChangeLRS(ctx, l, password); len(errs) > 0 {
		d := &xapiAdminData{}
		if err := h.fieldErrors(c, errs, d); err != nil {
			return err
		}
		return h.showAdmin(c, fiber.StatusUnprocessableEntity, d)
	}
	return c.Redirect("/yllapito/xapi?ilmoitus=tallennettu", fiber.StatusSeeOther)
}

// launched records an LTI launch as launched (nil service: nothing).
func (h *xapiHandlers) launched(c *fiber.Ctx, userID, target string) {
	if h == nil {
		return
	}
	if err := h.xapi.LaunchedFrom(c.UserContext(), userID, target, time.Now()); err != nil {
		h.log.Warn("xapi: queueing a launch", "err", err, "request_id", requestIDOf(c))
	}
}
