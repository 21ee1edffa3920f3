package main

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

// assignmentReminders sends the e-mails of the assignments through the
// outbox: to each person assigned, a notice when the assignment is made
// (or when they join its unit) and reminders 14 and 3 days before the due
// date; to the reporter who made it, a weekly digest. A learner gets them
// if they asked for study reminders or their organisation requires
// assignment reminders. Each is sent exactly once across instances: its
// key is claimed by an insert under a unique _id before the message is
// queued (assign.Store.ClaimReminder), and the outbox keeps one message a
// key. One instance at a time sweeps (a lease).
type assignmentReminders struct {
	accounts *account.Store
	progress *study.Progress
	certs    *cert.Store // nil: no certificates
	library  *course.Library
	dir      *org.Directory
	assign   *assign.Store
	outbox   *mail.Outbox
	baseURL  string
	holder   string
	log      *slog.Logger
	now      func() time.Time
}

// sweep runs once and returns how many messages it queued.
func (r *assignmentReminders) sweep(ctx context.Context) (int, error) {
	ok, err := r.accounts.Lease(ctx, "assignment-reminders", r.holder, 30*time.Minute)
	if err != nil || !ok {
		return 0, err
	}
	// Invitations expired a month ago go, with the names and addresses.
	if n, err := r.assign.PurgeInvitations(ctx, r.now().Add(-30*24*time.Hour)); err != nil {
		return 0, err
	} else if n > 0 {
		r.log.Info("expired invitations deleted", "count", n)
	}
	mailed, err := r.invitations(ctx)
	if err != nil {
		return 0, err
	}
	list, err := r.assign.All(ctx)
	if err != nil || len(list) == 0 {
		return mailed, err
	}
	records, err := r.progress.RecordRows(ctx)
	if err != nil {
		return 0, err
	}
	var issued []cert.IssuedRow
	if r.certs != nil {
		if issued, err = r.certs.IssuedRows(ctx); err != nil {
			return 0, err
		}
	}
	co := r.library.Current().Course
	ev := assign.NewEvidence(co, records, issued)
	now := r.now()
	type orgData struct {
		o       *org.Organisation
		tree    *org.Tree
		members []assign.Member
		rows    map[string]account.MemberRow
	}
	orgs := map[string]*orgData{}
	n := mailed
	for i := range list {
		a := &list[i]
		od := orgs[a.Org]
		if od == nil {
			o, err := r.dir.Get(ctx, a.Org)
			if errors.Is(err, org.ErrNotFound) {
				continue
			}
			if err != nil {
				return n, err
			}
			tree, err := r.dir.Tree(ctx, a.Org)
			if err != nil {
				return n, err
			}
			ms, err := r.accounts.Members(ctx, a.Org)
			if err != nil {
				return n, err
			}
			od = &orgData{o: o, tree: tree, rows: map[string]account.MemberRow{}}
			for _, m := range ms {
				od.members = append(od.members, assign.Member{ID: m.ID, Name: m.Name, Email: m.Email, Unit: m.UnitID, Groups: m.Groups})
				od.rows[m.ID] = m
			}
			orgs[a.Org] = od
		}
		kept, err := r.assign.Kept(ctx, a.ID)
		if err != nil {
			return n, err
		}
		rows := assign.Evaluate(a, od.tree, od.members, ev, kept, now)
		if err := r.assign.Keep(ctx, a.ID, rows); err != nil {
			return n, err
		}
		for _, row := range rows {
			m := od.rows[row.ID]
			if !m.Reminders && !od.o.AssignmentRemindersRequired {
				continue
			}
			for _, stage := range a.Stages(row, now) {
				sent, err := r.remind(ctx, a, m, stage, co, now)
				if err != nil {
					return n, err
				}
				if sent {
					n++
				}
			}
		}
		sent, err := r.digest(ctx, a, rows, co, now)
		if err != nil {
			return n, err
		}
		if sent {
			n++
		}
	}
	if n > 0 {
		r.log.Info("assignment e-mails queued", "count", n)
	}
	return n, nil
}

// invitations queues the e-mails of invitation files whose import stopped
// before all were queued (ten minutes after it began: a big file's own
// request may still be at it, and the outbox keeps one message a key
// anyway), and returns how many it queued.
func (r *assignmentReminders) invitations(ctx context.Context) (int, error) {
	batches, err := r.assign.Unmailed(ctx, r.now().Add(-10*time.Minute))
	if err != nil {
		return 0, err
	}
	n := 0
	for b, issued := range batches {
		lang := mailLang(b.Lang)
		o, err := r.dir.Get(ctx, b.Org)
		if err != nil && !errors.Is(err, org.ErrNotFound) {
			return n, err
		}
		tree, err := r.dir.Tree(ctx, b.Org)
		if err != nil && !errors.Is(err, org.ErrNotFound) {
			return n, err
		}
		for _, inv := range issued {
			if o == nil {
				break // the organisation is gone: its links lead nowhere
			}
			unit := ""
			if tree != nil {
				unit = strings.Join(tree.Path(inv.Unit), " › ")
			}
			_, err := r.outbox.Enqueue(ctx, mail.Request{To: inv.Email, Name: inv.Name, Lang: lang, Kind: "invitation", Key: inv.MailKey(), Data: map[string]string{
				"site_url": r.baseURL, "link": r.baseURL + "/kutsu?token=" + url.QueryEscape(inv.Token), "org": o.Name(lang), "unit": unit, "expires": i18n.Date(lang, inv.Expires)}})
			if err != nil && !errors.Is(err, mail.ErrAddress) {
				return n, err
			}
			n++
		}
		if err := r.assign.InvitationsMailed(ctx, b.ID); err != nil {
			return n, err
		}
	}
	return n, nil
}

// what names the assigned modules (or the whole course) in lang.
func what(a *assign.Assignment, co *course.Course, lang string) string {
	if a.WholeCourse() {
		return web.T(lang, "assign.whole") + " (" + co.Meta.Title + ")"
	}
	var titles []string
	for _, m := range co.Modules {
		if slices.Contains(a.Modules, m.Slug) {
			titles = append(titles, m.Title)
		}
	}
	return strings.Join(titles, ", ")
}

// remind queues one reminder of a person if its claim is this caller's.
func (r *assignmentReminders) remind(ctx context.Context, a *assign.Assignment, m account.MemberRow, stage string, co *course.Course, now time.Time) (bool, error) {
	key := assign.ReminderKey(a.ID, m.ID, stage)
	claimed, err := r.assign.ClaimReminder(ctx, key, m.ID)
	if err != nil || !claimed {
		return false, err
	}
	lang := mailLang(m.Lang)
	data := map[string]string{"site_url": r.baseURL, "link": r.baseURL + "/omat-opinnot", "what": what(a, co, lang), "due": i18n.Date(lang, a.Due)}
	kind := "reminder_assignment"
	if stage == assign.StageAssigned {
		if a.Note != "" {
			data["note"] = a.Note
		}
	} else {
		kind = "reminder_assignment_due"
		data["days"] = strconv.Itoa(a.DaysLeft(now))
	}
	req := mail.Request{To: m.Email, Name: m.Name, Lang: lang, UserID: m.ID, Kind: kind, Key: key, Data: data}
	if m.Reminders {
		// Asked for: with the one-click way to stop them.
		token, err := r.accounts.UnsubscribeToken(ctx, m.ID)
		if err != nil {
			return false, err
		}
		req.Unsubscribe = r.baseURL + "/viestit/peru?token=" + url.QueryEscape(token)
	} else {
		// Required by the organisation: no unsubscribe link that would
		// not stop them; the message says why it comes.
		req.Kind = map[string]string{"reminder_assignment": "assignment_notice", "reminder_assignment_due": "assignment_due"}[kind]
	}
	if _, err := r.outbox.Enqueue(ctx, req); err != nil {
		if errors.Is(err, mail.ErrAddress) {
			return false, r.assign.ReminderQueued(ctx, key) // an address the outbox refuses: nothing to retry
		}
		return false, err
	}
	return true, r.assign.ReminderQueued(ctx, key)
}

// digest queues the weekly digest to the reporter who made the
// assignment, from its first week on.
func (r *assignmentReminders) digest(ctx context.Context, a *assign.Assignment, rows []assign.Row, co *course.Course, now time.Time) (bool, error) {
	if now.Sub(a.CreatedAt) < 7*24*time.Hour {
		return false, nil
	}
	u, err := r.accounts.User(ctx, a.CreatedBy)
	if errors.Is(err, account.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if u.Disabled || u.Role != account.RoleReporter && u.Role != account.RoleAdmin {
		return false, nil
	}
	key := assign.DigestKey(a.ID, u.ID, now)
	claimed, err := r.assign.ClaimReminder(ctx, key, u.ID)
	if err != nil || !claimed {
		return false, err
	}
	lang := u.MailLang()
	completed, overdue := 0, 0
	var late, finished []string
	for _, row := range rows {
		label := row.Name
		if row.UnitPath != "" {
			label += " (" + row.UnitPath + ")"
		}
		switch row.Status {
		case assign.Completed:
			completed++
			if now.Sub(row.Completed) <= 7*24*time.Hour {
				finished = append(finished, label)
			}
		case assign.Overdue:
			overdue++
			late = append(late, label)
		}
	}
	data := map[string]string{"site_url": r.baseURL, "link": r.baseURL + "/raportit/tehtavat/" + a.ID, "what": what(a, co, lang),
		"due": i18n.Date(lang, a.Due), "total": strconv.Itoa(len(rows)), "completed": strconv.Itoa(completed), "overdue": strconv.Itoa(overdue)}
	if len(late) > 0 {
		data["overdue_names"] = namesBlock(late)
	}
	if len(finished) > 0 {
		data["finished_names"] = namesBlock(finished)
	}
	if _, err := r.outbox.Enqueue(ctx, mail.Request{To: u.Email, Name: u.Name, Lang: lang, UserID: u.ID, Kind: "assignment_digest", Key: key, Data: data}); err != nil {
		return false, err
	}
	return true, r.assign.ReminderQueued(ctx, key)
}

// namesBlock is a list of names, one a line, within the outbox's bounds.
func namesBlock(names []string) string {
	slices.Sort(names)
	var b strings.Builder
	for i, n := range names {
		if b.Len()+len(n) > 3500 {
			b.WriteString("… +" + strconv.Itoa(len(names)-i))
			break
		}
		b.WriteString(n + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func mailLang(lang string) string {
	switch lang {
	case "sv", "en":
		return lang
	}
	return "fi"
}

// run sweeps every hour until ctx ends (each sweep reads every progress
// record, as the reports do).
func (r *assignmentReminders) run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := r.sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("assignment reminders", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
