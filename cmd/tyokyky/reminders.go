package main

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/study"
)

// reminderGap is the least time between two reminders to one learner.
const reminderGap = 7 * 24 * time.Hour

// reminders sends the study reminders learners asked for on /tili: a nudge
// after a pause in studying (naming where to continue) and a word before
// an open exam attempt's deadline; at most one a week per learner, each
// with a one-click unsubscribe link. One instance at a time sends them (a
// lease), and a reminder's key (learner and day) keeps a retry from
// queueing it twice.
type reminders struct {
	accounts *account.Store
	progress *study.Progress
	library  *course.Library
	exam     *exam.Store
	outbox   *mail.Outbox
	baseURL  string
	after    time.Duration
	holder   string
	log      *slog.Logger
	now      func() time.Time
}

// sweep runs once and returns how many reminders it queued.
func (r *reminders) sweep(ctx context.Context) (int, error) {
	ok, err := r.accounts.Lease(ctx, "reminders", r.holder, 10*time.Minute)
	if err != nil || !ok {
		return 0, err
	}
	now := r.now()
	n := 0
	if r.exam != nil {
		soon, err := r.exam.DeadlinesBetween(ctx, now.Add(15*time.Minute), now.Add(2*time.Hour), 500)
		if err != nil {
			return n, err
		}
		for _, d := range soon {
			u, err := r.accounts.User(ctx, d.UserID)
			// Only a learner who asked, has not been reminded this week
			// and has been away from the site for half an hour.
			if err != nil || !u.Reminders || u.Disabled || now.Sub(u.LastReminder) < reminderGap || now.Sub(u.LastActive) < 30*time.Minute {
				continue
			}
			if err := r.send(ctx, u, "reminder_exam_deadline", "exam/"+d.Attempt, map[string]string{
				"link": r.baseURL + "/tentti/" + url.PathEscape(d.Attempt), "deadline": i18n.DateTime(u.MailLang(), d.Deadline)}); err != nil {
				return n, err
			}
			n++
		}
	}
	users, err := r.accounts.ReminderCandidates(ctx, now.Add(-r.after), now.Add(-reminderGap), 500)
	if err != nil {
		return n, err
	}
	co := r.library.Current().Course
	for i := range users {
		u := &users[i]
		all, err := r.progress.ForUser(ctx, u.ID)
		if err != nil {
			return n, err
		}
		if _, pct := co.Summarise(all); pct >= 100 {
			continue // studied through: nothing to nudge
		}
		data := map[string]string{"link": r.baseURL + "/omat-opinnot", "days": strconv.Itoa(int(now.Sub(u.LastActive).Hours() / 24))}
		if last := course.Last(all); last != nil {
			if m, ok := co.Module(last.Module); ok {
				if sec, ok := m.Section(last.Section); ok {
					data["link"], data["section"] = r.baseURL+sec.URL(), sec.Title
				}
			}
		}
		if err := r.send(ctx, u, "reminder_inactive", "inactive/"+now.UTC().Format("2006-01-02"), data); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		r.log.Info("study reminders queued", "count", n)
	}
	return n, nil
}

func (r *reminders) send(ctx context.Context, u *account.User, kind, key string, data map[string]string) error {
	token, err := r.accounts.UnsubscribeToken(ctx, u.ID)
	if err != nil {
		return err
	}
	data["site_url"] = r.baseURL
	if _, err := r.outbox.Enqueue(ctx, mail.Request{To: u.Email, Name: u.Name, Lang: u.MailLang(), UserID: u.ID, Kind: kind,
		Key: "reminder/" + u.ID + "/" + key, Unsubscribe: r.baseURL + "/viestit/peru?token=" + url.QueryEscape(token), Data: data}); err != nil {
		return err
	}
	return r.accounts.MarkReminded(ctx, u.ID, r.now())
}

// run sweeps every ten minutes until ctx ends.
func (r *reminders) run(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if _, err := r.sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("study reminders", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
