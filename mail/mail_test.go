package mail_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/smtptest"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/web"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var err error
	env, err = testenv.StartDatabase(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Close()
	os.Exit(code)
}

func freshDB(t testing.TB) *database.DB {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := env.DB.Named("mail_" + hex.EncodeToString(b))
	if err := mail.EnsureIndexes(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Database.Drop(context.Background()) })
	return db
}

// renderer is the platform's own (web.RenderMail).
type renderer struct{}

func (renderer) Render(kind, lang string, data map[string]string) (mail.Rendered, error) {
	m, err := web.RenderMail(kind, lang, data)
	return mail.Rendered{Subject: m.Subject, Text: m.Text, HTML: m.HTML}, err
}
func (renderer) Essential(kind string) bool { return web.MailEssential(kind) }

const site = "https://kurssi.example.fi"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func smtpFor(t testing.TB, srv *smtptest.Server) *mail.SMTP {
	s, err := mail.ParseSMTP(srv.URL, "Työkyky-kurssi <kurssi@example.fi>")
	if err != nil {
		t.Fatal(err)
	}
	s.TLSConfig = srv.ClientTLS
	s.Timeout = 5 * time.Second
	return s
}

func fastSender(o *mail.Outbox, s *mail.SMTP) *mail.Sender {
	snd := mail.NewSender(o, s, quiet())
	snd.Backoff, snd.MaxBackoff, snd.Poll = 5*time.Millisecond, 40*time.Millisecond, 50*time.Millisecond
	return snd
}

func reset(to string) mail.Request {
	return mail.Request{To: to, Name: "Maija Esihenkilö", Kind: "password_reset", Lang: "fi",
		Data: map[string]string{"site_url": site, "link": site + "/salasana/uusi?token=abc"}}
}

func TestParseSMTP(t *testing.T) {
	good := []struct {
		url, tls string
		port     int
	}{
		{"smtp://u:p%40ss@mail.example.fi", "starttls", 587},
		{"smtp://mail.example.fi:2525", "starttls", 2525},
		{"smtps://u:p@mail.example.fi", "implicit", 465},
		{"smtp://localhost:25?tls=none", "none", 25},
		{"smtp://relay:25?tls=opportunistic", "opportunistic", 25},
	}
	for _, g := range good {
		s, err := mail.ParseSMTP(g.url, "kurssi@example.fi")
		if err != nil || s.TLS != g.tls || s.Port != g.port {
			t.Errorf("%s: %+v %v", g.url, s, err)
		}
		if strings.Contains(s.Redacted(), "p@ss") || strings.Contains(s.Redacted(), ":p@") {
			t.Errorf("%s: redacted form shows the password: %s", g.url, s.Redacted())
		}
	}
	if s, _ := mail.ParseSMTP("smtp://u:p%40ss@mail.example.fi", "kurssi@example.fi"); s.Password != "p@ss" {
		t.Errorf("password = %q", s.Password)
	}
	bad := [][2]string{
		{"http://mail.example.fi", "kurssi@example.fi"},
		{"smtp://", "kurssi@example.fi"},
		{"smtp://mail.example.fi:99999", "kurssi@example.fi"},
		{"smtp://mail.example.fi?tls=maybe", "kurssi@example.fi"},
		{"smtps://mail.example.fi?tls=none", "kurssi@example.fi"},
		{"smtp://mail.example.fi?x=1", "kurssi@example.fi"},
		{"smtp://mail.example.fi/path", "kurssi@example.fi"},
		{"smtp://mail.example.fi", ""},
		{"smtp://mail.example.fi", "not an address"},
		{"smtp://mail.example.fi", "a@example.fi\r\nBcc: x@example.com"},
	}
	for _, b := range bad {
		if _, err := mail.ParseSMTP(b[0], b[1]); err == nil {
			t.Errorf("%q from %q was accepted", b[0], b[1])
		}
	}
}

func TestDeliversOverSTARTTLSWithAuthentication(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{Username: "kurssi", Password: "s3cret!"})
	o := mail.NewOutbox(freshDB(t), renderer{}, "example.fi", false)
	id, err := o.Enqueue(ctx, reset("maija@example.fi"))
	if err != nil {
		t.Fatal(err)
	}
	reminder, err := o.Enqueue(ctx, mail.Request{To: "ville@example.fi", Kind: "reminder_inactive", Lang: "sv", Unsubscribe: site + "/viestit/peru?token=xyz",
		Data: map[string]string{"site_url": site, "link": site + "/moduulit", "days": "14"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fastSender(o, smtpFor(t, srv)).RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("received %d", len(msgs))
	}
	got := map[string]smtptest.Received{}
	for _, m := range msgs {
		got[m.To[0]] = m
		if !m.TLS {
			t.Error("the message travelled unencrypted")
		}
		if m.Text == "" || m.HTML == "" || strings.Contains(m.Text, "<p") {
			t.Errorf("parts: text %q html %q", m.Text, m.HTML)
		}
		if m.Header.Get("Auto-Submitted") != "auto-generated" || !strings.Contains(m.Header.Get("From"), "kurssi@example.fi") {
			t.Errorf("headers: %v", m.Header)
		}
	}
	r := got["maija@example.fi"]
	stored, _ := o.Message(ctx, id)
	if r.MessageID != stored.MessageID || !strings.HasSuffix(r.MessageID, "@example.fi>") {
		t.Errorf("Message-ID %q, outbox %q", r.MessageID, stored.MessageID)
	}
	if !strings.Contains(r.Text, site+"/salasana/uusi?token=abc") || r.Header.Get("List-Unsubscribe") != "" {
		t.Errorf("reset message: %q, List-Unsubscribe %q", r.Text, r.Header.Get("List-Unsubscribe"))
	}
	if stored.State != mail.Sent || !stored.Erased || stored.Text != "" || stored.Attempts != 1 || stored.Response == "" {
		t.Errorf("outbox after delivery: %+v", stored)
	}
	u := got["ville@example.fi"]
	if u.Header.Get("List-Unsubscribe") != "<"+site+"/viestit/peru?token=xyz>" || u.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("reminder headers: %v", u.Header)
	}
	if u.Header.Get("Content-Language") != "sv" || !strings.Contains(u.Text, "/viestit/peru?token=xyz") {
		t.Errorf("reminder: %v %q", u.Header, u.Text)
	}
	if s, _ := o.Message(ctx, reminder); s.State != mail.Sent {
		t.Errorf("reminder state %s", s.State)
	}
}

func TestImplicitTLSAndWrongPassword(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true, Username: "kurssi", Password: "oikea"})
	o := mail.NewOutbox(freshDB(t), renderer{}, "example.fi", false)
	id, _ := o.Enqueue(ctx, reset("a@example.fi"))
	s := smtpFor(t, srv)
	s.Password = "väärä"
	if _, err := fastSender(o, s).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// A refused sign-in is the relay's setting, not the message's fault:
	// the message waits, with the answer shown, and goes once the
	// setting is fixed.
	if m, _ := o.Message(ctx, id); m.State != mail.Pending || !strings.Contains(m.LastError, "535") {
		t.Fatalf("with a wrong password: %+v", m)
	}
	s.Password = "oikea"
	waitState(t, o, fastSender(o, s), id, mail.Sent)
	if len(srv.Messages()) != 1 || !srv.Messages()[0].TLS {
		t.Fatalf("received %+v", srv.Messages())
	}
}

func waitState(t *testing.T, o *mail.Outbox, s *mail.Sender, id, state string) *mail.Message {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		m, err := o.Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State == state {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	m, _ := o.Message(ctx, id)
	t.Fatalf("message %s stayed %s: %+v", id, m.State, m)
	return nil
}

func TestTemporaryRefusalIsRetriedAndPermanentFails(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{})
	o := mail.NewOutbox(freshDB(t), renderer{}, "example.fi", false)
	snd := fastSender(o, smtpFor(t, srv))
	var countMu sync.Mutex
	counted := map[string]int{}
	snd.Count = func(r string) { countMu.Lock(); counted[r]++; countMu.Unlock() }

	// 451 at RCPT three times, then accepted.
	var mu sync.Mutex
	refusals := 3
	srv.SetFault(func(st smtptest.Stage) error {
		mu.Lock()
		defer mu.Unlock()
		if st == smtptest.StageRcpt && refusals > 0 {
			refusals--
			return smtptest.Refuse(451, "try again later")
		}
		return nil
	})
	id, _ := o.Enqueue(ctx, reset("temp@example.fi"))
	if _, err := snd.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := o.Message(ctx, id)
	if m.State != mail.Pending || !strings.Contains(m.LastError, "451") || !m.NextTry.After(m.CreatedAt) {
		t.Fatalf("after a 451: %+v", m)
	}
	m = waitState(t, o, snd, id, mail.Sent)
	if m.Attempts != 4 || srv.Count(m.MessageID) != 1 {
		t.Fatalf("attempts %d, received %d times", m.Attempts, srv.Count(m.MessageID))
	}
	countMu.Lock()
	if counted["retry"] != 3 || counted["sent"] != 1 {
		t.Errorf("tries counted %v, want 3 retries and 1 sent", counted)
	}
	countMu.Unlock()

	// 550 at DATA: failed at once, shown with the server's answer; an
	// administrator's retry sends it once the server takes it.
	srv.SetFault(func(st smtptest.Stage) error {
		if st == smtptest.StageData {
			return smtptest.Refuse(550, "mailbox unavailable")
		}
		return nil
	})
	id, _ = o.Enqueue(ctx, reset("perm@example.fi"))
	if _, err := snd.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ = o.Message(ctx, id)
	if m.State != mail.Failed || !strings.Contains(m.LastError, "550") || m.Text == "" {
		t.Fatalf("after a 550: %+v", m)
	}
	countMu.Lock()
	if counted["failed"] != 1 {
		t.Errorf("tries counted %v, want 1 failed", counted)
	}
	countMu.Unlock()
	failed, _ := o.List(ctx, mail.Failed, 10)
	if len(failed) != 1 || failed[0].ID != id {
		t.Fatalf("failed list %+v", failed)
	}
	srv.SetFault(nil)
	if ok, err := o.Retry(ctx, id); err != nil || !ok {
		t.Fatal(ok, err)
	}
	m = waitState(t, o, snd, id, mail.Sent)
	if srv.Count(m.MessageID) != 1 {
		t.Fatalf("received %d times", srv.Count(m.MessageID))
	}
	if ok, _ := o.Retry(ctx, id); ok {
		t.Fatal("a sent message was queued again")
	}
}

func TestGivesUpAfterFortyEightHours(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{})
	srv.SetFault(func(smtptest.Stage) error { return smtptest.Refuse(421, "service not available") })
	o := mail.NewOutbox(freshDB(t), renderer{}, "example.fi", false)
	start := time.Now()
	o.SetClockForTest(func() time.Time { return start })
	id, _ := o.Enqueue(ctx, reset("late@example.fi"))
	o.SetClockForTest(func() time.Time { return start.Add(mail.MaxAge + time.Minute) })
	if _, err := fastSender(o, smtpFor(t, srv)).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := o.Message(ctx, id); m.State != mail.Failed || !strings.Contains(m.LastError, "48 h") {
		t.Fatalf("%+v", m)
	}
}

func TestDroppedConnectionAndOutageLoseNothing(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{})
	o := mail.NewOutbox(freshDB(t), renderer{}, "example.fi", false)
	snd := fastSender(o, smtpFor(t, srv))
	drops := 1
	srv.SetFault(func(st smtptest.Stage) error {
		if st == smtptest.StageData && drops > 0 {
			drops--
			return smtptest.ErrDrop
		}
		return nil
	})
	var ids []string
	for i := range 5 {
		id, err := o.Enqueue(ctx, reset(fmt.Sprintf("d%d@example.fi", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		waitState(t, o, snd, id, mail.Sent)
	}

	// Down for a while: the messages wait, then go once it is back.
	srv.Stop()
	id, _ := o.Enqueue(ctx, reset("outage@example.fi"))
	for range 3 {
		if _, err := snd.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m, _ := o.Message(ctx, id); m.State != mail.Pending || m.Attempts == 0 || m.LastError == "" {
		t.Fatalf("during the outage: %+v", m)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitState(t, o, snd, id, mail.Sent)
	for id, n := range srv.Counts() {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	if len(srv.Counts()) != 6 {
		t.Errorf("received %d distinct messages, want 6", len(srv.Counts()))
	}
}

// A sender that died after claiming a try leaves its claim; once the
// lease is over another sender takes the next try.
func TestClaimOfADeadSenderIsSteppedOver(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Options{})
	db := freshDB(t)
	o := mail.NewOutbox(db, renderer{}, "example.fi", false)
	id, _ := o.Enqueue(ctx, reset("lease@example.fi"))
	if _, err := db.Collection("outbox_claims").InsertOne(ctx, bson.D{{Key: "_id", Value: id + "#1"}, {Key: "holder", Value: "dead"}, {Key: "until", Value: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	snd := fastSender(o, smtpFor(t, srv))
	if n, _ := snd.RunOnce(ctx); n != 0 {
		t.Fatal("a message under a live claim was sent")
	}
	if _, err := db.Collection("outbox_claims").UpdateOne(ctx, bson.D{{Key: "_id", Value: id + "#1"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: time.Now().Add(-time.Second)}}}}); err != nil {
		t.Fatal(err)
	}
	m := waitState(t, o, snd, id, mail.Sent)
	if m.Attempts != 2 || srv.Count(m.MessageID) != 1 {
		t.Fatalf("attempts %d, received %d", m.Attempts, srv.Count(m.MessageID))
	}
}

func TestEnqueueRefusesBadInputAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	o := mail.NewOutbox(db, renderer{}, "example.fi", true)
	bad := []mail.Request{
		{To: "not-an-address", Kind: "test", Lang: "fi", Data: map[string]string{"site_url": site}},
		{To: "Eve <eve@example.fi>", Kind: "test", Lang: "fi", Data: map[string]string{"site_url": site}},
		{To: "eve@example.fi\r\nBcc: all@example.fi", Kind: "test", Lang: "fi", Data: map[string]string{"site_url": site}},
		{To: "eve@example.fi", Name: "Eve\r\nBcc: all@example.fi", Kind: "test", Lang: "fi", Data: map[string]string{"site_url": site}},
		{To: "eve@example.fi", Name: strings.Repeat("n", 300), Kind: "test", Lang: "fi", Data: map[string]string{"site_url": site}},
		{To: "eve@example.fi", Kind: "no_such_kind", Lang: "fi", Data: map[string]string{"site_url": site}},
		{To: "eve@example.fi", Kind: "test", Lang: "fi", Data: map[string]string{"site_url": site, "surprise": "x"}},
		{To: "eve@example.fi", Kind: "password_reset", Lang: "fi", Data: map[string]string{"site_url": site}},
		{To: "eve@example.fi", Kind: "reminder_inactive", Lang: "fi", Data: map[string]string{"site_url": site, "link": site, "days": "14"}},
	}
	for i, r := range bad {
		if _, err := o.Enqueue(ctx, r); err == nil {
			t.Errorf("request %d was accepted: %+v", i, r)
		}
	}
	for _, c := range []string{"outbox", "outbox_bodies"} {
		if n, _ := db.Collection(c).CountDocuments(ctx, bson.D{}); n != 0 {
			t.Fatalf("%d refused messages were written in %s", n, c)
		}
	}
	r := reset("idem@example.fi")
	r.Key = "password_reset/user-1/token-hash"
	a, err := o.Enqueue(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.Enqueue(ctx, r)
	if err != nil || a != b {
		t.Fatalf("%s %s %v", a, b, err)
	}
	m, _ := o.Message(ctx, a)
	if m.State != mail.Held || m.Text == "" || m.HTML == "" {
		t.Fatalf("without SMTP the message is kept for the development mailbox: %+v", m)
	}
	if n, _ := db.Collection("outbox").CountDocuments(ctx, bson.D{}); n != 1 {
		t.Fatalf("%d messages for one key", n)
	}
	if _, err := o.Message(ctx, "nope"); !errors.Is(err, mail.ErrNotFound) {
		t.Fatal(err)
	}
}

// Two senders (two instances) share one outbox of 1,000 messages while
// the SMTP server refuses or drops half the time: every message arrives
// exactly once, by its Message-ID at the server.
// TestPurge: old held and sent messages go with their bodies, failed ones
// stay four times as long, and a body whose message was never written is
// swept once it is an hour old.
func TestPurge(t *testing.T) {
	ctx := context.Background()
	db := freshDB(t)
	now := time.Now()
	o := mail.NewOutbox(db, renderer{}, "example.fi", true)
	o.SetClockForTest(func() time.Time { return now })
	held, err := o.Enqueue(ctx, reset("held@example.fi"))
	if err != nil {
		t.Fatal(err)
	}
	failed, err := o.Enqueue(ctx, reset("failed@example.fi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("outbox").UpdateOne(ctx, bson.D{{Key: "_id", Value: failed}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: mail.Failed}}}}); err != nil {
		t.Fatal(err)
	}
	// An enqueue that stopped between the body and the message.
	orphan, err := o.Enqueue(ctx, reset("orphan@example.fi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("outbox").DeleteOne(ctx, bson.D{{Key: "_id", Value: orphan}}); err != nil {
		t.Fatal(err)
	}
	ids := func(coll string) map[string]bool {
		cur, err := db.Collection(coll).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, d := range docs {
			out[d.ID] = true
		}
		return out
	}
	keep := 24 * time.Hour
	// Within the hour, nothing goes: the "orphan" may be an enqueue
	// under way.
	if n, err := o.Purge(ctx, keep); err != nil || n != 0 || !ids("outbox_bodies")[orphan] {
		t.Fatalf("purge at once: %d %v %v", n, err, ids("outbox_bodies"))
	}
	now = now.Add(2 * time.Hour)
	if _, err := o.Purge(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if b := ids("outbox_bodies"); b[orphan] || !b[held] || !b[failed] {
		t.Fatalf("after two hours the orphan body goes, the others stay: %v", b)
	}
	now = now.Add(keep)
	if n, err := o.Purge(ctx, keep); err != nil || n != 1 {
		t.Fatalf("purge after a day: %d %v", n, err)
	}
	if m, b := ids("outbox"), ids("outbox_bodies"); m[held] || b[held] || !m[failed] || !b[failed] {
		t.Fatalf("after a day the held message goes with its body, the failed one stays: %v %v", m, b)
	}
	now = now.Add(3 * keep)
	if n, err := o.Purge(ctx, keep); err != nil || n != 1 {
		t.Fatalf("purge after four days: %d %v", n, err)
	}
	if m, b := ids("outbox"), ids("outbox_bodies"); len(m) != 0 || len(b) != 0 {
		t.Fatalf("after four days nothing is left: %v %v", m, b)
	}
}

func TestThousandMessagesTwoSendersHalfFailingExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := smtptest.Start(t, smtptest.Options{Username: "u", Password: "p"})
	var mu sync.Mutex
	rnd := mathrand.New(mathrand.NewPCG(1, 2))
	srv.SetFault(func(st smtptest.Stage) error {
		mu.Lock()
		defer mu.Unlock()
		// Each of the three stages fails with about a fifth, so about half
		// of the messages fail a try.
		if rnd.Float64() < 0.2 {
			switch rnd.IntN(3) {
			case 0:
				return smtptest.Refuse(451, "local error")
			case 1:
				return smtptest.Refuse(421, "closing")
			default:
				if st == smtptest.StageData {
					return smtptest.ErrDrop
				}
				return smtptest.Refuse(452, "insufficient storage")
			}
		}
		return nil
	})
	db := freshDB(t)
	const n = 1000
	// Each instance has its own outbox value on the one database.
	outboxes := []*mail.Outbox{mail.NewOutbox(db, renderer{}, "example.fi", false), mail.NewOutbox(db, renderer{}, "example.fi", false)}
	for i := range n {
		if _, err := outboxes[i%2].Enqueue(ctx, reset(fmt.Sprintf("l%04d@example.fi", i))); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, o := range outboxes {
		snd := fastSender(o, smtpFor(t, srv))
		wg.Add(1)
		go func() { defer wg.Done(); snd.Run(ctx) }()
	}
	// Progress is watched on the SMTP server's side (counting in the
	// outbox would read it all four times a look); the outbox is checked
	// once at the end.
	deadline := time.Now().Add(8 * time.Minute)
	for time.Now().Before(deadline) && len(srv.Counts()) < n {
		time.Sleep(250 * time.Millisecond)
	}
	// Let the last results be recorded.
	for time.Now().Before(deadline) {
		c, err := outboxes[0].Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c[mail.Sent] == n || c[mail.Failed] > 0 {
			break
		}
		time.Sleep(time.Second)
	}
	cancel()
	wg.Wait()
	c, err := outboxes[0].Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c[mail.Sent] != n {
		t.Errorf("outbox states %v, want %d sent", c, n)
	}
	if left, _ := db.Collection("outbox_bodies").CountDocuments(context.Background(), bson.D{}); left != 0 {
		t.Errorf("%d bodies left after delivery", left)
	}
	counts := srv.Counts()
	if len(counts) != n {
		t.Fatalf("%d distinct messages arrived, want %d", len(counts), n)
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("%s arrived %d times", id, c)
		}
	}
}

// BenchmarkSender: messages per second one sender delivers to the
// in-process SMTP server over STARTTLS, from the embedded store's outbox
// (batches of 50 per connection).
func BenchmarkSender(b *testing.B) {
	ctx := context.Background()
	srv := smtptest.Start(b, smtptest.Options{Username: "u", Password: "p"})
	o := mail.NewOutbox(freshDB(b), renderer{}, "example.fi", false)
	snd := fastSender(o, smtpFor(b, srv))
	for i := range b.N {
		if _, err := o.Enqueue(ctx, reset(fmt.Sprintf("b%06d@example.fi", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n, err := snd.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	if got := len(srv.Counts()); got != b.N {
		b.Fatalf("%d arrived, want %d", got, b.N)
	}
}

// BenchmarkEnqueue: writing one rendered message to the outbox.
func BenchmarkEnqueue(b *testing.B) {
	ctx := context.Background()
	o := mail.NewOutbox(freshDB(b), renderer{}, "example.fi", false)
	b.ResetTimer()
	for i := range b.N {
		if _, err := o.Enqueue(ctx, reset(fmt.Sprintf("e%06d@example.fi", i))); err != nil {
			b.Fatal(err)
		}
	}
}
