package api

import (
	"context"
	"log/slog"
	"strings"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/web"
)

// mailer writes the platform's messages to the outbox, each in the
// request that causes it. Without an outbox nothing is sent.
type mailer struct {
	outbox *mail.Outbox
	// siteURL is the public address (Options.BaseURL): links in messages.
	siteURL string
	log     *slog.Logger
}

// mailRenderer adapts the web package's e-mail templates to the outbox.
type mailRenderer struct{}

func (mailRenderer) Render(kind, lang string, data map[string]string) (mail.Rendered, error) {
	m, err := web.RenderMail(kind, lang, data)
	return mail.Rendered{Subject: m.Subject, Text: m.Text, HTML: m.HTML}, err
}

func (mailRenderer) Essential(kind string) bool { return web.MailEssential(kind) }

// MailRenderer is the renderer the outbox uses (cmd wires it).
func MailRenderer() mail.Renderer { return mailRenderer{} }

// link is an absolute link to path on the site.
func (s *mailer) link(path string) string {
	return strings.TrimSuffix(s.siteURL, "/") + path
}

// mailTo writes one message to the outbox. key makes it idempotent (empty:
// a new message each time).
func (s *mailer) mailTo(ctx context.Context, to, name, lang, userID, kind, key string, data map[string]string) error {
	if s.outbox == nil {
		return nil
	}
	if data == nil {
		data = map[string]string{}
	}
	data["site_url"] = s.siteURL
	_, err := s.outbox.Enqueue(ctx, mail.Request{To: to, Name: name, Lang: lang, UserID: userID, Kind: kind, Key: key, Data: data})
	return err
}

// notify sends an account an essential notice; a failure is logged, not
// shown: the change it reports has been made.
func (s *mailer) notify(ctx context.Context, u *account.User, kind string, data map[string]string) {
	if u == nil {
		return
	}
	if err := s.mailTo(ctx, u.Email, u.Name, u.MailLang(), u.ID, kind, "", data); err != nil {
		s.log.Error("e-mail notice not queued", "kind", kind, "user", u.ID, "err", err)
	}
}

// confirmDeletion tells a deleted account's address that the account is
// gone. The message names neither the person nor the account, and the
// outbox forgets it once it is delivered.
func (s *mailer) confirmDeletion(ctx context.Context, u *account.User) error {
	if s.outbox == nil {
		return nil
	}
	_, err := s.outbox.Enqueue(ctx, mail.Request{To: u.Email, Lang: u.MailLang(), Kind: "account_deleted", Forget: true,
		Data: map[string]string{"site_url": s.siteURL}})
	return err
}
