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
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

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

func (s *Server) feedbackPage(c *fiber.Ctx) error {
	page := c.Query("sivu")
	return s.renderForm(c, 200, "feedback", "feedback.title", &feedbackData{Values: map[string]string{"kind": feedback.Content, "page": page}})
}

// feedbackLimit: 30 messages an hour per address.
func (s *Server) feedbackAllowed(c *fiber.Ctx) bool {
	key := "feedback:" + clientIP(c)
	if s.feedbackLimit.Wait(key) > 0 {
		return false
	}
	s.feedbackLimit.Fail(key)
	return true
}

func (s *Server) sendFeedback(c *fiber.Ctx) error {
	lang := s.lang(c)
	v := map[string]string{}
	for _, f := range []string{"kind", "message", "contact", "page"} {
		v[f] = c.FormValue(f)
	}
	d := &feedbackData{Values: v}
	if !s.feedbackAllowed(c) {
		d.Errors = []fieldError{{Field: "", Message: web.T(lang, "form.limited")}}
		return s.renderForm(c, fiber.StatusTooManyRequests, "feedback", "feedback.title", d)
	}
	f := feedback.Item{Kind: v["kind"], Message: v["message"], Contact: v["contact"], Page: v["page"]}
	if vw := s.viewerOf(c); vw.signedIn() {
		f.UserID = vw.User.ID
	}
	if _, errs := s.feedback.Send(c.UserContext(), f); len(errs) > 0 {
		for _, err := range errs {
			fe := feedbackError(lang, err)
			if fe.Field == "" {
				return err
			}
			d.Errors = append(d.Errors, fe)
		}
		return s.renderForm(c, fiber.StatusUnprocessableEntity, "feedback", "feedback.title", d)
	}
	return s.renderForm(c, 200, "feedback", "feedback.title", &feedbackData{Sent: true, Values: map[string]string{"kind": v["kind"]}})
}

func (s *Server) apiFeedback(c *fiber.Ctx) error {
	var in struct{ Kind, Message, Contact, Page string }
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "the body must be a JSON object")
	}
	if !s.feedbackAllowed(c) {
		return fiber.NewError(fiber.StatusTooManyRequests, "too many messages; wait and try again")
	}
	f := feedback.Item{Kind: in.Kind, Message: in.Message, Contact: in.Contact, Page: in.Page}
	if vw := s.viewerOf(c); vw.signedIn() {
		f.UserID = vw.User.ID
	}
	saved, errs := s.feedback.Send(c.UserContext(), f)
	if len(errs) > 0 {
		var fields []fieldError
		for _, err := range errs {
			fe := feedbackError(s.apiLang(c), err)
			if fe.Field == "" {
				return err
			}
			if fe.Field == "kind-content" {
				fe.Field = "kind"
			}
			fields = append(fields, fe)
		}
		return s.problemFields(c, fiber.StatusUnprocessableEntity, "the feedback was not accepted", fields)
	}
	return c.Status(fiber.StatusCreated).JSON(saved)
}

type inboxData struct {
	Items    []feedback.Item
	Statuses []string
	Notice   string
	Errors   []fieldError
}

func (s *Server) feedbackInbox(c *fiber.Ctx) error {
	items, err := s.feedback.Inbox(c.UserContext())
	if err != nil {
		return err
	}
	d := &inboxData{Items: items, Statuses: []string{feedback.StatusNew, feedback.StatusInProgress, feedback.StatusAnswered}}
	if c.Query("ilmoitus") == "tallennettu" {
		d.Notice = web.T(s.lang(c), "inbox.saved")
	}
	return s.renderForm(c, 200, "inbox", "inbox.title", d)
}

func (s *Server) answerFeedback(c *fiber.Ctx) error {
	id := c.Params("feedback")
	if len(id) > 60 {
		return fiber.ErrNotFound
	}
	status := c.FormValue("status")
	err := s.feedback.Update(c.UserContext(), id, status, c.FormValue("answer"), s.viewerOf(c).User.Email)
	if err == nil {
		err = s.accounts.Audit(c.UserContext(), s.viewerOf(c).User.ID, "feedback.update", id, status)
	}
	if err == nil && status == feedback.StatusAnswered && strings.TrimSpace(c.FormValue("answer")) != "" {
		s.feedbackAnswered(c, id)
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

// Static information pages: the accessibility statement and the privacy
// notice.
func (s *Server) infoPage(name, titleKey, path string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
			return r.render(name, path, page{Title: web.T(r.Lang, titleKey)})
		})
	}
}

// apiExport gives a learner everything the platform keeps of them, as one
// JSON file.
func (s *Server) apiExport(c *fiber.Ctx) error {
	v := s.viewerOf(c)
	ctx := c.UserContext()
	sessions, err := s.accounts.Sessions(ctx, v.User.ID)
	if err != nil {
		return err
	}
	progress, err := s.progress.ForUser(ctx, v.User.ID)
	if err != nil {
		return err
	}
	answers, err := s.progress.Answers(ctx, v.User.ID)
	if err != nil {
		return err
	}
	var feedback []feedback.Item
	if s.feedback != nil {
		if feedback, err = s.feedback.ByUser(ctx, v.User.ID); err != nil {
			return err
		}
	}
	attempts := []any{}
	if s.exam != nil {
		list, err := s.exam.ForUser(ctx, v.User.ID)
		if err != nil {
			return err
		}
		for _, a := range list {
			// The attempt and the learner's answers; no keys (an open
			// attempt's export must not reveal them), and which items
			// were right only as the exam's review rule says.
			attempts = append(attempts, map[string]any{"id": a.ID, "number": a.Number, "status": a.Status, "started": a.Started,
				"deadline": a.Deadline, "submitted": a.Submitted, "result": s.learnerResult(a, list), "answers": a.Answers})
		}
	}
	prog := []*course.SectionProgress{}
	for _, p := range progress {
		prog = append(prog, p)
	}
	ans := []*study.Answer{}
	for _, a := range answers {
		ans = append(ans, a)
	}
	certs := []*cert.Certificate{}
	if s.certs != nil {
		list, err := s.certs.ForUser(ctx, v.User.ID)
		if err != nil {
			return err
		}
		certs = append(certs, list...)
	}
	out := map[string]any{
		"exported_at":   time.Now().UTC(),
		"profile":       v.User,
		"sessions":      sessions,
		"progress":      prog,
		"answers":       ans,
		"feedback":      feedback,
		"exam_attempts": attempts,
		"certificates":  certs,
	}
	body, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="omat-tiedot.json"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(body)
}

// feedbackAnswered sends the answer to the sender who left an address
// (the contact field, or the account of a signed-in sender), once per
// answer text.
func (s *Server) feedbackAnswered(c *fiber.Ctx, id string) {
	ctx := c.UserContext()
	f, err := s.feedback.Get(ctx, id)
	if err != nil || f.Answer == "" {
		return
	}
	to, name, lang := "", "", "fi"
	if f.UserID != "" {
		if u, err := s.accounts.User(ctx, f.UserID); err == nil {
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
	if err := s.mailTo(ctx, to, name, lang, f.UserID, "feedback_answered", "feedback/"+f.ID+"/"+hex.EncodeToString(sum[:8]),
		map[string]string{"answer": answer}); err != nil {
		s.log.Error("e-mail notice not queued", "kind", "feedback_answered", "err", err)
	}
}
