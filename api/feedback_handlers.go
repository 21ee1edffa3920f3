package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/web"
)

// feedbackHandlers serve the feedback form, its JSON twin and the
// administrators' inbox.
type feedbackHandlers struct {
	*core
	mail  *mailer // the answer to a sender who left an address
	store *feedback.Store
	// limit: 30 messages an hour per address.
	limit *account.Limiter
}

func newFeedbackHandlers(k *core, m *mailer, store *feedback.Store) *feedbackHandlers {
	return &feedbackHandlers{core: k, mail: m, store: store, limit: account.NewLimiter(30, time.Hour, time.Minute, time.Hour)}
}

type feedbackData struct {
	Errors []fieldError
	Values map[string]string
	Sent   bool
}

// feedbackError is a refusal of the feedback form as the form shows it:
// the kind's message goes to its first choice (kind-content), the one
// that takes the focus. Field is "" for what is not a refusal.
func feedbackError(lang string, err error) fieldError {
	f, ok := fault.As(err)
	if !ok || f.Field == "" {
		return fieldError{Field: "", Message: web.T(lang, "err.500")}
	}
	field := f.Field
	if field == "kind" {
		field = "kind-content"
	}
	return fieldError{Field: field, Code: f.Code, Message: web.T(lang, f.MessageKey())}
}

func (h *feedbackHandlers) page(c *fiber.Ctx) error {
	page := c.Query("sivu")
	return h.renderForm(c, 200, "feedback", "feedback.title", &feedbackData{Values: map[string]string{"kind": feedback.Content, "page": page}})
}

// allowed counts a message of the address (30 an hour, see limit).
func (h *feedbackHandlers) allowed(c *fiber.Ctx) bool {
	key := "feedback:" + clientIP(c)
	if h.limit.Wait(key) > 0 {
		return false
	}
	h.limit.Fail(key)
	return true
}

func (h *feedbackHandlers) send(c *fiber.Ctx) error {
	lang := h.lang(c)
	v := map[string]string{}
	for _, f := range []string{"kind", "message", "contact", "page"} {
		v[f] = c.FormValue(f)
	}
	d := &feedbackData{Values: v}
	if !h.allowed(c) {
		d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.limited")}}
		return h.renderForm(c, fiber.StatusTooManyRequests, "feedback", "feedback.title", d)
	}
	f := feedback.Item{Kind: v["kind"], Message: v["message"], Contact: v["contact"], Page: v["page"]}
	if vw := h.viewerOf(c); vw.signedIn() {
		f.UserID = vw.User.ID
	}
	if _, errs := h.store.Send(c.UserContext(), f); len(errs) > 0 {
		for _, err := range errs {
			fe := feedbackError(lang, err)
			if fe.Field == "" {
				return err
			}
			d.Errors = append(d.Errors, fe)
		}
		return h.renderForm(c, fiber.StatusUnprocessableEntity, "feedback", "feedback.title", d)
	}
	return h.renderForm(c, 200, "feedback", "feedback.title", &feedbackData{Sent: true, Values: map[string]string{"kind": v["kind"]}})
}

func (h *feedbackHandlers) api(c *fiber.Ctx) error {
	var in struct{ Kind, Message, Contact, Page string }
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "the body must be a JSON object")
	}
	if !h.allowed(c) {
		return fiber.NewError(fiber.StatusTooManyRequests, "too many messages; wait and try again")
	}
	f := feedback.Item{Kind: in.Kind, Message: in.Message, Contact: in.Contact, Page: in.Page}
	if vw := h.viewerOf(c); vw.signedIn() {
		f.UserID = vw.User.ID
	}
	saved, errs := h.store.Send(c.UserContext(), f)
	if len(errs) > 0 {
		var fields []fieldError
		for _, err := range errs {
			fe := feedbackError(h.apiLang(c), err)
			if fe.Field == "" {
				return err
			}
			if fe.Field == "kind-content" {
				fe.Field = "kind"
			}
			fields = append(fields, fe)
		}
		return h.problemFields(c, fiber.StatusUnprocessableEntity, "the feedback was not accepted", fields)
	}
	return c.Status(fiber.StatusCreated).JSON(saved)
}

type inboxData struct {
	Pager    pager
	Items    []feedback.Item
	Statuses []string
	Notice   string
	Errors   []fieldError
}

func (h *feedbackHandlers) inbox(c *fiber.Ctx) error {
	items, next, err := h.store.Inbox(c.UserContext(), afterOf(c), listPageSize)
	if err != nil {
		return pageError(err)
	}
	d := &inboxData{Items: items, Pager: pagerFor(c, "/yllapito/palaute", next), Statuses: []string{feedback.StatusNew, feedback.StatusInProgress, feedback.StatusAnswered}}
	if c.Query("ilmoitus") == "tallennettu" {
		d.Notice = web.T(h.lang(c), "inbox.saved")
	}
	return h.renderForm(c, 200, "inbox", "inbox.title", d)
}

func (h *feedbackHandlers) answer(c *fiber.Ctx) error {
	id := c.Params("feedback")
	if len(id) > 60 {
		return fiber.ErrNotFound
	}
	status := c.FormValue("status")
	err := h.store.Update(c.UserContext(), id, status, c.FormValue("answer"), h.viewerOf(c).User.Email)
	if err == nil {
		err = h.accounts.Audit(c.UserContext(), h.viewerOf(c).User.ID, "feedback.update", id, status)
	}
	if err == nil && status == feedback.StatusAnswered && strings.TrimSpace(c.FormValue("answer")) != "" {
		h.answered(c, id)
	}
	switch {
	case errors.Is(err, feedback.ErrNotFound):
		return fiber.ErrNotFound
	case errors.Is(err, feedback.ErrStatus):
		return fiber.NewError(fiber.StatusBadRequest, "status must be new, in_progress or answered")
	case err != nil:
		return err
	}
	return c.Redirect("/yllapito/palaute?ilmoitus=tallennettu#palaute-"+id, fiber.StatusSeeOther)
}

// answered sends the answer to the sender who left an address
// (the contact field, or the account of a signed-in sender), once per
// answer text.
func (h *feedbackHandlers) answered(c *fiber.Ctx, id string) {
	ctx := c.UserContext()
	f, err := h.store.Get(ctx, id)
	if err != nil || f.Answer == "" {
		return
	}
	to, name, lang := "", "", "fi"
	if f.UserID != "" {
		if u, err := h.accounts.User(ctx, f.UserID); err == nil {
			to, name, lang = u.Email, u.Name, u.MailLang()
		}
	}
	if e, err := account.NormalizeEmail(f.Contact); err == nil {
		to = e
	}
	if to == "" {
		return
	}
	// The message carries at most about 3,800 bytes of the answer (the
	// whole answer stays in the inbox); tabs read as spaces.
	answer := strings.ReplaceAll(f.Answer, "\t", "    ")
	if len(answer) > 3800 {
		cut := 3800
		for cut > 0 && !utf8.RuneStart(answer[cut]) {
			cut--
		}
		answer = answer[:cut] + " …"
	}
	sum := sha256.Sum256([]byte(f.Answer))
	if err := h.mail.mailTo(ctx, to, name, lang, f.UserID, "feedback_answered", "feedback/"+f.ID+"/"+hex.EncodeToString(sum[:8]),
		map[string]string{"answer": answer}); err != nil {
		h.log.Error("e-mail notice not queued", "kind", "feedback_answered", "err", err)
	}
}
