package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/internal/config"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/poll"
	"github.com/tyokyky/tyokyky/mail"
)

// mailKeep is how long delivered and development-mailbox messages stay in
// the outbox (failed ones four times as long).
const mailKeep = 30 * 24 * time.Hour

// startMail opens the outbox and, with an SMTP relay configured, starts
// this instance's sender; without one every message is held for the
// development mailbox at /yllapito/posti.
func startMail(ctx context.Context, cfg *config.Config, db *database.DB, accounts *account.Store, count func(result string), log *slog.Logger) (*mail.Outbox, error) {
	go poll.Every(ctx, 6*time.Hour, log, "removing old e-mail and expired links", func(ctx context.Context) error {
		if err := accounts.ExpireTokens(ctx); err != nil {
			return err
		}
		_, err := mail.NewOutbox(db, api.MailRenderer(), "", true).Purge(ctx, mailKeep)
		return err
	})
	if cfg.SMTPURL == "" {
		log.Warn("no SMTP relay configured (TYOKYKY_SMTP_URL): e-mails are kept in the outbox, unsent; administrators read them at " + strings.TrimRight(cfg.BaseURL, "/") + "/yllapito/posti")
		return mail.NewOutbox(db, api.MailRenderer(), "localhost", true), nil
	}
	relay, err := mail.ParseSMTP(cfg.SMTPURL, cfg.SMTPFrom)
	if err != nil {
		return nil, err // checked at start-up already
	}
	domain := relay.From[strings.LastIndexByte(relay.From, '@')+1:]
	outbox := mail.NewOutbox(db, api.MailRenderer(), domain, false)
	sender := mail.NewSender(outbox, relay, log)
	sender.Count = count
	go sender.Run(ctx)
	log.Info("e-mail is sent through " + relay.Redacted() + " from " + relay.From)
	return outbox, nil
}

// smtpProblems checks the SMTP settings with the configuration.
func smtpProblems(cfg *config.Config) []string {
	if cfg.SMTPURL == "" {
		return nil
	}
	if _, err := mail.ParseSMTP(cfg.SMTPURL, cfg.SMTPFrom); err != nil {
		return []string{"smtp-url: " + err.Error()}
	}
	return nil
}
