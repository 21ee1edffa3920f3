package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/smtptest"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/study"
)

// raceLearners is how many learners race through the three instances
// (make bench's exam load uses 1,000 on one): each makes three requests
// at once, and under the race detector in a full run (other packages'
// tests beside it) 40 learners' starts took 50–60 s.
const raceLearners = 24

// TestThreeInstancesRace runs three server processes on one document
// store (the first one's embedded store, by FerretDB's own address: the
// other two reach it over the wire, outside its write gate, as instances
// on one MongoDB do) and one MinIO, and races them: exam starts, retakes
// and submits through different instances at once, a studio publish from
// two, a session made on one and ended on another, and the background
// jobs (certificates, their e-mail notices through a real SMTP server)
// doing each piece of work once. The learners' clients send a request
// again after a 503 (a write that met another instance's past SQLite's
// busy timeout, as happens here under a full run's load), as the pages'
// scripts do; nothing else is forgiven.
func TestThreeInstancesRace(t *testing.T) {
	ctx := context.Background()
	minio, err := testenv.StartMinIO(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer minio.Close()
	relay := smtptest.Start(t, smtptest.Options{})
	mailsTo := func(address string) int {
		n := 0
		for _, m := range relay.Messages() {
			for _, to := range m.To {
				if strings.EqualFold(to, address) {
					n++
				}
			}
		}
		return n
	}
	env := []string{
		"TYOKYKY_S3_ENDPOINT=" + minio.Endpoint(),
		"TYOKYKY_S3_ACCESS_KEY=" + minio.Credentials.AccessKey,
		"TYOKYKY_S3_SECRET_KEY=" + minio.Credentials.SecretKey,
		"TYOKYKY_SMTP_URL=" + relay.URL + "?tls=none", // a relay on the loopback
		"TYOKYKY_SMTP_FROM=kurssi@example.fi",
		"TYOKYKY_REQUIRE_VERIFIED_EMAIL=false",
	}
	dataA := t.TempDir()
	a := startServer(t, dataA, env...)
	// FerretDB's own address, past the first instance's write gate: the
	// instances' writes meet as they do on MongoDB, unserialized.
	raw, err := os.ReadFile(filepath.Join(dataA, "db", database.UngatedURIFile))
	if err != nil {
		t.Fatal(err)
	}
	uri := strings.TrimSpace(string(raw))
	instances := []*server{a,
		startServer(t, t.TempDir(), append(env, "TYOKYKY_MONGODB_URI="+uri)...),
		startServer(t, t.TempDir(), append(env, "TYOKYKY_MONGODB_URI="+uri)...)}
	base := func(i int) string { return "http://" + instances[i%len(instances)].addr }
	// explain finds what the instances logged for an answer's request id
	// (a 500's cause is in the log, not in the answer).
	explain := func(body string) string {
		var p struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(body), &p) != nil || p.RequestID == "" {
			return ""
		}
		var lines []string
		for _, inst := range instances {
			for line := range strings.Lines(inst.stderr.String()) {
				if strings.Contains(line, p.RequestID) && !strings.Contains(line, "msg=request ") {
					lines = append(lines, strings.TrimSpace(line))
				}
			}
		}
		return "\n\tlogged: " + strings.Join(lines, "\n\tlogged: ")
	}

	db, err := database.Open(ctx, database.Options{URI: uri, Database: "tyokyky"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	accounts := account.NewStore(db)
	progress := study.NewProgress(db)
	exams := exam.NewStore(db, nil)
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	type learner struct {
		id, email, token string
		attempt          string
	}
	people := make([]*learner, raceLearners)
	for i := range people {
		email := fmt.Sprintf("kilpa%02d@example.fi", i)
		u, errs := accounts.Register(ctx, account.Registration{Email: email, Name: "Kilpa Ajaja",
			Password: "kilpailutestin salalause", Organisation: account.Organisations[0]})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if err := completeCourse(ctx, progress, c, u.ID); err != nil {
			t.Fatal(err)
		}
		token, _, err := accounts.StartSession(ctx, u, false, "race", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		people[i] = &learner{id: u.ID, email: email, token: token}
	}
	client := &http.Client{Timeout: 3 * time.Minute}
	on := func(inst int, l *learner) *learnerClient {
		return &learnerClient{base: base(inst), token: l.token, http: client}
	}
	// Each learner's requests go to the instances in a random order.
	race := func(n int, do func(i, inst int)) {
		var wg sync.WaitGroup
		for i := range people {
			for _, inst := range rand.Perm(len(instances))[:n] {
				wg.Go(func() { do(i, inst) })
			}
		}
		wg.Wait()
	}

	// 1. Every learner starts the exam through all three instances at
	// once: one attempt each, the same one in every answer.
	var mu sync.Mutex
	seen := map[string]map[string]bool{}
	race(3, func(i, inst int) {
		code, body, err := on(inst, people[i]).send("POST", "/api/v1/exam/attempts", "")
		var at struct{ ID string }
		json.Unmarshal([]byte(body), &at)
		if err != nil || (code != 201 && code != 200) || at.ID == "" {
			t.Errorf("start %d on %d: %d %s %v%s", i, inst, code, body, err, explain(body))
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[people[i].id] == nil {
			seen[people[i].id] = map[string]bool{}
		}
		seen[people[i].id][at.ID] = true
		people[i].attempt = at.ID
	})
	if t.Failed() {
		return
	}
	for _, l := range people {
		list, err := exams.ForUser(ctx, l.id)
		if err != nil || len(seen[l.id]) != 1 || len(list) != 1 {
			t.Fatalf("%s: %d attempts answered, %d stored (%v)", l.email, len(seen[l.id]), len(list), err)
		}
	}

	// 2. The first half answer right and pass, the others fail; each
	// submits through two instances at once: one result each, both
	// answers the same.
	pass := func(i int) bool { return i < raceLearners/2 }
	for i, l := range people {
		if !pass(i) {
			continue
		}
		full, err := exams.Get(ctx, l.id, l.attempt)
		if err != nil {
			t.Fatal(err)
		}
		for k, d := range full.Items {
			b, _ := json.Marshal(rightAnswer(d))
			if code, body, err := on(i+k, l).send("PUT", "/api/v1/exam/attempts/"+l.attempt+"/answers/"+d.ID, string(b)); err != nil || code != 200 {
				t.Fatalf("saving an answer: %d %s %v%s", code, body, err, explain(body))
			}
		}
	}
	results := map[string][]string{}
	race(2, func(i, inst int) {
		code, body, err := on(inst, people[i]).send("POST", "/api/v1/exam/attempts/"+people[i].attempt+"/submit", "")
		var got struct {
			Status    string
			Submitted string
			Result    *struct {
				Passed bool
				Score  float64
			}
		}
		json.Unmarshal([]byte(body), &got)
		if err != nil || code != 200 || got.Status != "submitted" || got.Result == nil || got.Result.Passed != pass(i) {
			t.Errorf("submit %d on %d: %d %s %v%s", i, inst, code, body, err, explain(body))
			return
		}
		mu.Lock()
		results[people[i].id] = append(results[people[i].id], fmt.Sprint(got.Submitted, got.Result.Score))
		mu.Unlock()
	})
	for _, l := range people {
		if r := results[l.id]; len(r) == 2 && r[0] != r[1] {
			t.Errorf("%s: the two submits answered different results %v", l.email, r)
		}
		n, err := db.Collection("exam_results").CountDocuments(ctx, bson.D{{Key: "user_id", Value: l.id}})
		if err != nil || n != 1 {
			t.Errorf("%s: %d results stored (%v)", l.email, n, err)
		}
	}

	// 3. The failers' wait is over (a day later); each starts the retake
	// through all three instances at once: one new open attempt each.
	// A submit's follow-up steps are idempotent and may land late (the
	// raced loser's, or another instance's repair): one of them set the
	// true time back over the rewritten one once, under a full run. So
	// the time is written until it stays for a second.
	past := time.Now().Add(-25 * time.Hour).UTC().Truncate(time.Millisecond)
	for deadline := time.Now().Add(20 * time.Second); ; {
		for i, l := range people {
			if pass(i) {
				continue
			}
			if _, err := db.Collection("exam_learners").UpdateOne(ctx, bson.D{{Key: "_id", Value: l.id}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "last_submitted", Value: past}}}}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		moved := 0
		for i, l := range people {
			if pass(i) {
				continue
			}
			var doc struct {
				LastSubmitted time.Time `bson:"last_submitted"`
			}
			if err := db.Collection("exam_learners").FindOne(ctx, bson.D{{Key: "_id", Value: l.id}}).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if !doc.LastSubmitted.Equal(past) {
				moved++
			}
		}
		if moved == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failers' last submission kept being written back", moved)
		}
	}
	retakes := map[string]map[string]bool{}
	var failers []*learner
	for i, l := range people {
		if !pass(i) {
			failers = append(failers, l)
		}
	}
	var wg sync.WaitGroup
	for _, l := range failers {
		for inst := range instances {
			wg.Go(func() {
				code, body, err := on(inst, l).send("POST", "/api/v1/exam/attempts", "")
				var at struct{ ID string }
				json.Unmarshal([]byte(body), &at)
				if err != nil || (code != 201 && code != 200) || at.ID == "" {
					t.Errorf("retake of %s on %d: %d %s %v%s", l.email, inst, code, body, err, explain(body))
					return
				}
				mu.Lock()
				if retakes[l.id] == nil {
					retakes[l.id] = map[string]bool{}
				}
				retakes[l.id][at.ID] = true
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, l := range failers {
		list, err := exams.ForUser(ctx, l.id)
		open := 0
		for _, at := range list {
			if at.Status == exam.StatusOpen {
				open++
			}
		}
		if err != nil || len(retakes[l.id]) != 1 || len(list) != 2 || open != 1 {
			t.Errorf("%s retaking: %d attempts answered, %d stored, %d open (%v)", l.email, len(retakes[l.id]), len(list), open, err)
		}
	}

	// 4. The background jobs: one certificate per passer, issued by
	// whichever instance came first, and one e-mail notice delivered.
	deadline := time.Now().Add(60 * time.Second)
	for i, l := range people {
		if !pass(i) {
			continue
		}
		for {
			n, err := db.Collection("certificates").CountDocuments(ctx, bson.D{{Key: "user_id", Value: l.id}})
			if err == nil && n == 1 && mailsTo(l.email) >= 1 {
				break
			}
			if err != nil || n > 1 || time.Now().After(deadline) {
				t.Fatalf("%s: %d certificates, %d e-mails (%v)", l.email, n, mailsTo(l.email), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second) // a second sender would have sent by now
	for i, l := range people {
		if n := mailsTo(l.email); pass(i) && n != 1 || !pass(i) && n != 0 {
			t.Errorf("%s: %d e-mails delivered", l.email, n)
		}
	}
	for id, n := range relay.Counts() {
		if n != 1 {
			t.Errorf("message %s delivered %d times", id, n)
		}
	}

	// 5. A session made through one instance works on the others;
	// signed out on one, it is refused by all within SessionCacheTTL.
	l := people[0]
	for inst := range instances {
		if code, body, err := on(inst, l).do("GET", "/api/v1/auth/session", ""); err != nil || code != 200 {
			t.Fatalf("the session on instance %d: %d %s %v", inst, code, body, err)
		}
	}
	if code, body, err := on(1, l).do("POST", "/api/v1/auth/logout", ""); err != nil || code/100 != 2 {
		t.Fatalf("sign-out on instance 1: %d %s %v", code, body, err)
	}
	out := time.Now()
	for inst := range instances {
		for {
			code, _, err := on(inst, l).do("GET", "/api/v1/auth/session", "")
			if err == nil && code == 401 {
				break
			}
			if time.Since(out) > account.SessionCacheTTL+2*time.Second {
				t.Fatalf("instance %d still accepts the ended session after %s (%d %v)", inst, time.Since(out).Round(time.Millisecond), code, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// 6. Two authors' instances publish the same file from the same base
	// revision at once: one wins, the other gets 409 with both texts.
	author, errs := accounts.Register(ctx, account.Registration{Email: "kirjoittaja@example.fi", Name: "Kirsi Kirjoittaja",
		Password: "kirjoittajan salalause", Organisation: account.Organisations[0]})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := accounts.SetRole(ctx, author.Email, account.RoleAuthor); err != nil {
		t.Fatal(err)
	}
	author, _ = accounts.UserByEmail(ctx, author.Email)
	token, _, err := accounts.StartProviderSession(ctx, author, false, "", true, "race", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	writer := &learner{token: token}
	path := "/api/v1/studio/files/modules/01-tyokyvyn-tuki/02-palvelupolku.md"
	code, body, err := on(0, writer).do("GET", path, "")
	var file struct {
		Text string
		Rev  int
	}
	if json.Unmarshal([]byte(body), &file); err != nil || code != 200 || file.Rev == 0 {
		t.Fatalf("the studio file: %d %s %v", code, body, err)
	}
	codes := make([]int, 2)
	for k := range 2 {
		wg.Go(func() {
			text := file.Text + fmt.Sprintf("\nKilpailevan julkaisun kappale %d.\n", k)
			b, _ := json.Marshal(map[string]any{"text": text, "base_rev": file.Rev})
			code, _, err := on(k+1, writer).do("POST", strings.Replace(path, "/files/", "/publish/", 1), string(b))
			if err != nil {
				t.Error(err)
			}
			codes[k] = code
		})
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
		t.Fatalf("two publishes at once answered %v, want one 200 and one 409", codes)
	}
	_, body, _ = on(2, writer).do("GET", path, "")
	var after struct{ Rev int }
	json.Unmarshal([]byte(body), &after)
	if after.Rev != file.Rev+1 {
		t.Fatalf("after the race the file is at revision %d, want %d", after.Rev, file.Rev+1)
	}
}

// send makes a request as the pages' scripts do: an answer 503 (the store
// too busy to take it in time; nothing was written) is sent again after
// its Retry-After, up to five times.
func (l *learnerClient) send(method, path, body string) (int, string, error) {
	for n := 0; ; n++ {
		code, b, err := l.do(method, path, body)
		if err != nil || code != http.StatusServiceUnavailable || n == 5 {
			return code, b, err
		}
		time.Sleep(2 * time.Second)
	}
}
