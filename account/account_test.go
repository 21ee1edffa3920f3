package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/internal/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

func newStore(t *testing.T) *Store {
	t.Helper()
	db := env.Database()
	if err := EnsureIndexes(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return NewStore(db)
}

func reg(email string) Registration {
	return Registration{Email: email, Name: "Anu Lehto", Password: "pitkä ja oma lause 42", Organisation: Organisations[0]}
}

func TestRegisterAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u, errs := s.Register(ctx, reg(" Anu.Lehto@Example.FI "))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if u.Email != "anu.lehto@example.fi" || u.Role != RoleLearner || u.PasswordHash == "" {
		t.Fatalf("user %+v", u)
	}
	if _, errs := s.Register(ctx, reg("anu.lehto@example.fi")); len(errs) != 1 || !errors.Is(errs[0], ErrEmailTaken) {
		t.Fatalf("duplicate: %v", errs)
	}
	if got, err := s.Authenticate(ctx, "ANU.LEHTO@example.fi", "pitkä ja oma lause 42"); err != nil || got.ID != u.ID {
		t.Fatalf("authenticate: %v", err)
	}
	for _, c := range [][2]string{{"anu.lehto@example.fi", "wrong password"}, {"nobody@example.fi", "pitkä ja oma lause 42"}, {"not an email", "x"}} {
		if _, err := s.Authenticate(ctx, c[0], c[1]); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("authenticate %v: %v, want the same error for every failure", c, err)
		}
	}
}

func TestRegistrationValidation(t *testing.T) {
	cases := map[string]struct {
		r    Registration
		want error
	}{
		"bad email":       {Registration{Email: "x@", Name: "Anu", Password: "pitkä ja oma lause", Organisation: Organisations[1]}, ErrInvalidEmail},
		"short name":      {Registration{Email: "a@b.fi", Name: "A", Password: "pitkä ja oma lause", Organisation: Organisations[1]}, ErrInvalidName},
		"no organisation": {Registration{Email: "a@b.fi", Name: "Anu", Password: "pitkä ja oma lause", Organisation: "Keksitty Oy"}, ErrInvalidOrg},
		"other w/o text":  {Registration{Email: "a@b.fi", Name: "Anu", Password: "pitkä ja oma lause", Organisation: OtherOrganisation}, ErrInvalidOrg},
		"short password":  {Registration{Email: "a@b.fi", Name: "Anu", Password: "lyhyt", Organisation: Organisations[1]}, ErrPasswordShort},
		"common password": {Registration{Email: "a@b.fi", Name: "Anu", Password: "Salasana123", Organisation: Organisations[1]}, ErrPasswordCommon},
		"email as pw":     {Registration{Email: "anu.lehto@b.fi", Name: "Anu", Password: "anu.lehto@b.fi", Organisation: Organisations[1]}, ErrPasswordCommon},
		"repeated char":   {Registration{Email: "a@b.fi", Name: "Anu", Password: "aaaaaaaaaaaa", Organisation: Organisations[1]}, ErrPasswordCommon},
		"role":            {Registration{Email: "a@b.fi", Name: "Anu", Password: "pitkä ja oma lause", Organisation: Organisations[1], Role: "king"}, ErrInvalidRole},
	}
	for name, c := range cases {
		errs := c.r.Validate()
		found := false
		for _, e := range errs {
			found = found || errors.Is(e, c.want)
		}
		if !found {
			t.Errorf("%s: errors %v, want %v", name, errs, c.want)
		}
	}
	ok := Registration{Email: "a@b.fi", Name: "Anu", Password: "pitkä ja oma lause", Organisation: OtherOrganisation, OrganisationOther: "Yksityinen palveluntuottaja"}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Fatalf("valid registration: %v", errs)
	}
	long := ok
	long.Password = string(make([]byte, 64)) + "x"
	for i := range 64 {
		long.Password = long.Password[:i] + "z" + long.Password[i+1:]
	}
	if errs := long.Validate(); len(errs) != 0 {
		t.Fatalf("a 65-character password must be allowed: %v", errs)
	}
}

func TestPasswordHashing(t *testing.T) {
	ctx := context.Background()
	h, err := HashPassword(ctx, "oikea hevonen paristo niitti")
	if err != nil || h[:10] != "$argon2id$" {
		t.Fatalf("hash %q %v", h, err)
	}
	if ok, _ := VerifyPassword(ctx, h, "oikea hevonen paristo niitti"); !ok {
		t.Fatal("right password refused")
	}
	if ok, _ := VerifyPassword(ctx, h, "väärä"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword(ctx, "oikea hevonen paristo niitti")
	if h == h2 {
		t.Fatal("no salt")
	}
	if _, err := VerifyPassword(ctx, "$bcrypt$x", "x"); err == nil {
		t.Fatal("unknown format accepted")
	}
	// Many at once finish under the concurrency limit.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); VerifyPassword(ctx, h, "x") }()
	}
	wg.Wait()
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u, _ := s.Register(ctx, reg("sessio@example.fi"))
	now := time.Now()
	s.now = func() time.Time { return now }
	tok1, sess1, err := s.StartSession(ctx, u, false, "Firefox", "127.0.0.1")
	if err != nil || len(tok1) < 40 || sess1.CSRF == "" || sess1.ID == tok1 {
		t.Fatalf("session %q %+v %v", tok1, sess1, err)
	}
	tok2, _, _ := s.StartSession(ctx, u, false, "Chromium", "127.0.0.2")
	if tok1 == tok2 {
		t.Fatal("same token twice")
	}
	if _, got, err := s.Session(ctx, tok1); err != nil || got.ID != u.ID {
		t.Fatalf("lookup: %v", err)
	}
	list, _ := s.Sessions(ctx, u.ID)
	if len(list) != 2 {
		t.Fatalf("%d sessions", len(list))
	}
	// Idle timeout.
	now = now.Add(s.IdleTimeout + time.Minute)
	if _, _, err := s.Session(ctx, tok1); !errors.Is(err, ErrSessionNotActive) {
		t.Fatalf("idle session accepted: %v", err)
	}
	// Absolute timeout, even when active.
	now = time.Now()
	start := now
	tok3, _, _ := s.StartSession(ctx, u, false, "", "")
	for i := 0; i < 400; i++ {
		now = now.Add(s.IdleTimeout / 2)
		if _, _, err := s.Session(ctx, tok3); err != nil {
			break
		}
	}
	if lived := now.Sub(start); lived < s.AbsoluteTimeout || lived > s.AbsoluteTimeout+s.IdleTimeout {
		t.Fatalf("an active session ended after %s, want just after the absolute timeout %s", lived, s.AbsoluteTimeout)
	}
	// Revocation; another user cannot end someone else's session.
	now = time.Now()
	other, _ := s.Register(ctx, reg("toinen@example.fi"))
	tok4, sess4, _ := s.StartSession(ctx, u, false, "", "")
	if ok, _ := s.EndSession(ctx, other.ID, sess4.ID); ok {
		t.Fatal("another user ended the session")
	}
	if ok, _ := s.EndSession(ctx, u.ID, sess4.ID); !ok {
		t.Fatal("own session not ended")
	}
	if _, _, err := s.Session(ctx, tok4); !errors.Is(err, ErrSessionNotActive) {
		t.Fatal("revoked session accepted")
	}
	tok5, sess5, _ := s.StartSession(ctx, u, false, "", "")
	s.StartSession(ctx, u, false, "", "")
	if n, _ := s.EndAllSessions(ctx, u.ID, sess5.ID); n < 1 {
		t.Fatal("sign out everywhere ended nothing")
	}
	if _, _, err := s.Session(ctx, tok5); err != nil {
		t.Fatal("sign out everywhere ended the current session too")
	}
	// A password change ends every session.
	if err := s.SetPassword(ctx, u, "uusi pitkä salalause 7"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(ctx, tok5); !errors.Is(err, ErrSessionNotActive) {
		t.Fatal("session survived a password change")
	}
}

func TestTwoFactorAndRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u, _ := s.Register(ctx, reg("kaksi@example.fi"))
	key, err := s.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmTOTP(ctx, u, "000000"); !errors.Is(err, ErrBadCode) {
		t.Fatalf("wrong code enabled 2FA: %v", err)
	}
	code, _ := CodeAt(key.Secret(), time.Now())
	codes, err := s.ConfirmTOTP(ctx, u, code)
	if err != nil || len(codes) != 10 {
		t.Fatalf("confirm: %v %v", codes, err)
	}
	// The code that confirmed the authenticator is used up; the next
	// step's code works once, even when sent twice at the same time.
	if err := s.VerifySecondFactor(ctx, u, code); !errors.Is(err, ErrBadCode) {
		t.Fatalf("the confirming code was accepted again: %v", err)
	}
	next, _ := CodeAt(key.Secret(), time.Now().Add(30*time.Second))
	var accepted sync.WaitGroup
	okCodes := make(chan error, 3)
	for range 3 {
		accepted.Add(1)
		go func() { defer accepted.Done(); okCodes <- s.VerifySecondFactor(ctx, u, next) }()
	}
	accepted.Wait()
	close(okCodes)
	if n := countNil(okCodes); n != 1 {
		t.Fatalf("one TOTP code was accepted %d times", n)
	}
	if err := s.VerifySecondFactor(ctx, u, next); !errors.Is(err, ErrBadCode) {
		t.Fatalf("a used TOTP code was accepted again: %v", err)
	}
	// An older step than the last one used is refused too.
	if prev, _ := CodeAt(key.Secret(), time.Now()); s.VerifySecondFactor(ctx, u, prev) == nil {
		t.Fatal("a code of an earlier step was accepted after a later one")
	}
	if err := s.VerifySecondFactor(ctx, u, "123456"); !errors.Is(err, ErrBadCode) {
		t.Fatal("wrong code accepted")
	}
	// A recovery code works once, even when used twice at the same time.
	var wg sync.WaitGroup
	results := make(chan error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); results <- s.VerifySecondFactor(ctx, u, codes[0]) }()
	}
	wg.Wait()
	close(results)
	okCount := 0
	for err := range results {
		if err == nil {
			okCount++
		}
	}
	if okCount != 1 {
		t.Fatalf("recovery code accepted %d times", okCount)
	}
	if err := s.VerifySecondFactor(ctx, u, codes[1]); err != nil {
		t.Fatalf("second recovery code: %v", err)
	}
	admin, _ := s.SetRole(ctx, "kaksi@example.fi", RoleAdmin)
	if err := s.DisableTOTP(ctx, admin); !errors.Is(err, ErrTwoFactorRequired) {
		t.Fatalf("an admin turned two-factor off: %v", err)
	}
}

func countNil(errs <-chan error) int {
	n := 0
	for err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

// Beginning a new authenticator leaves the active one in force: until the
// new one is confirmed, two-factor stays on with the old secret.
func TestBeginningTOTPKeepsTheActiveAuthenticator(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u, _ := s.Register(ctx, reg("vaihto@example.fi"))
	key, _ := s.BeginTOTP(ctx, u)
	code, _ := CodeAt(key.Secret(), time.Now())
	if _, err := s.ConfirmTOTP(ctx, u, code); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginTOTP(ctx, u); err != nil {
		t.Fatal(err)
	}
	fresh, _ := s.User(ctx, u.ID)
	if !fresh.TOTPEnabled || fresh.TOTPSecret != key.Secret() {
		t.Fatal("beginning a new authenticator turned the active one off")
	}
	next, _ := CodeAt(key.Secret(), time.Now().Add(30*time.Second))
	if err := s.VerifySecondFactor(ctx, u, next); err != nil {
		t.Fatalf("the active authenticator stopped working: %v", err)
	}
}

func TestPasswordReset(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Register(ctx, reg("nollaus@example.fi"))
	token, _, err := s.IssueReset(ctx, "nollaus@example.fi", ResetTTL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseReset(ctx, token, "lyhyt"); !errors.Is(err, ErrPasswordShort) {
		t.Fatalf("short password: %v", err)
	}
	if _, err := s.UseReset(ctx, token, "aivan uusi salalause"); err != nil {
		t.Fatalf("reset after a refused try: %v", err)
	}
	if _, err := s.UseReset(ctx, token, "toinen uusi salalause"); !errors.Is(err, ErrTokenInvalid) {
		t.Fatal("reset token worked twice")
	}
	if _, err := s.Authenticate(ctx, "nollaus@example.fi", "aivan uusi salalause"); err != nil {
		t.Fatal("new password does not work")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(3, time.Minute, time.Second, 8*time.Second)
	now := time.Now()
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if l.Wait("ip") != 0 {
			t.Fatal("limited within the allowance")
		}
		l.Fail("ip")
	}
	if w := l.Wait("ip"); w != 0 {
		t.Fatalf("wait %s after exactly the allowance", w)
	}
	l.Fail("ip")
	if w := l.Wait("ip"); w != time.Second {
		t.Fatalf("first delay %s", w)
	}
	l.Fail("ip")
	l.Fail("ip")
	l.Fail("ip")
	l.Fail("ip")
	if w := l.Wait("ip"); w != 8*time.Second {
		t.Fatalf("capped delay %s", w)
	}
	now = now.Add(9 * time.Second)
	if w := l.Wait("ip"); w != 0 {
		t.Fatalf("not released: %s", w)
	}
	l.Fail("ip")
	l.Succeed("ip")
	if l.Wait("ip") != 0 || l.Wait("other") != 0 {
		t.Fatal("success did not reset")
	}
}

// The administrators' user list sorts by name, role, organisation or the
// latest activity (most recent first), ties by address.
func TestUsersSorted(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mk := func(email, name, org string) *User {
		r := reg(email)
		r.Name, r.Organisation = name, org
		u, errs := s.Register(ctx, r)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return u
	}
	mk("lajittelu-c@example.fi", "Aino Lajittelu", Organisations[2])
	b := mk("lajittelu-a@example.fi", "Cecilia Lajittelu", Organisations[1])
	mk("lajittelu-b@example.fi", "Bertta Lajittelu", Organisations[0])
	if _, err := s.SetRole(ctx, b.Email, RoleAuthor); err != nil {
		t.Fatal(err)
	}
	order := func(sort string) string {
		users, err := s.UsersSorted(ctx, "lajittelu-", sort, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range users {
			got = append(got, u.Email[len("lajittelu-"):len("lajittelu-")+1])
		}
		return strings.Join(got, "")
	}
	for sort, want := range map[string]string{SortEmail: "abc", SortName: "cba", SortRole: "abc", SortOrganisation: "bac"} {
		if got := order(sort); got != want {
			t.Errorf("sorted by %s: %s, want %s", sort, got, want)
		}
	}
	if !ValidUserSort(SortLastActive) || ValidUserSort("password_hash") {
		t.Error("ValidUserSort accepts the wrong keys")
	}
}

// One policy: each role's permissions, and none without two factors.
func TestRolePolicy(t *testing.T) {
	cases := []struct {
		role                      string
		edit, reports, administer bool
	}{
		{RoleLearner, false, false, false},
		{RoleAuthor, true, false, false},
		{RoleReporter, false, true, false},
		{RoleAdmin, true, true, true},
		{"superuser", false, false, false},
	}
	for _, c := range cases {
		u := &User{Role: c.role, TOTPEnabled: true}
		if u.Can(EditContent) != c.edit || u.Can(ViewReports) != c.reports || u.Can(Administer) != c.administer {
			t.Errorf("%s: edit %v reports %v administer %v", c.role, u.Can(EditContent), u.Can(ViewReports), u.Can(Administer))
		}
		if u.NeedsTwoFactor() != (c.edit || c.reports || c.administer) {
			t.Errorf("%s: needs two factors = %v", c.role, u.NeedsTwoFactor())
		}
		u.TOTPEnabled = false
		if u.Can(EditContent) || u.Can(ViewReports) || u.Can(Administer) {
			t.Errorf("%s without two factors can do something", c.role)
		}
	}
	var none *User
	if none.Can(EditContent) || none.Privileged() {
		t.Error("a nil user can do something")
	}
}

// Two instances on one database: B reads the notes A leaves. Unfollowed,
// B rereads a session older than SessionCacheTTL; following, it trusts it
// longer, drops it at the next read after A signs it out, and stops
// trusting it longer as soon as its reads stop.
func TestRevocationNotes(t *testing.T) {
	ctx := context.Background()
	a := newStore(t)
	b := NewStore(a.db)
	now := time.Now()
	a.now = func() time.Time { return now }
	b.now = a.now
	u, _ := a.Register(ctx, reg("muistio@example.fi"))
	tok, sess, err := a.StartSession(ctx, u, false, "", "")
	if err != nil {
		t.Fatal(err)
	}
	role := func() string {
		t.Helper()
		_, got, err := b.Session(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return got.Role
	}
	behindTheBack := func(r string) {
		t.Helper()
		if _, err := a.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: r}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if role() != RoleLearner {
		t.Fatal("the session's role")
	}
	// Unfollowed: five seconds, as before.
	behindTheBack(RoleReporter)
	now = now.Add(SessionCacheTTL + time.Second)
	if r := role(); r != RoleReporter {
		t.Fatalf("an unfollowed instance trusted a session read %s ago: %s", SessionCacheTTL+time.Second, r)
	}
	// Following: trusted for longer while the reads keep up.
	if err := b.ReadRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	behindTheBack(RoleLearner)
	for range 3 {
		now = now.Add(3 * time.Second)
		if err := b.ReadRevocations(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if r := role(); r != RoleReporter {
		t.Fatalf("a following instance reread a session read 9 s ago: %s", r)
	}
	// The reads stop: after SessionCacheTTL the session is read again.
	now = now.Add(SessionCacheTTL)
	if r := role(); r != RoleLearner {
		t.Fatalf("an instance whose reads stopped trusted the session: %s", r)
	}
	// A signs the session out: B refuses it after its next read, though
	// its entry is young.
	if err := b.ReadRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	role()
	if ok, err := a.EndSession(ctx, u.ID, sess.ID); !ok || err != nil {
		t.Fatalf("sign-out: %v %v", ok, err)
	}
	now = now.Add(time.Second)
	if err := b.ReadRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Session(ctx, tok); !errors.Is(err, ErrSessionNotActive) {
		t.Fatalf("after the note was read, the signed-out session: %v", err)
	}
	// The notes name no one, and go after revocationKeep.
	var notes []bson.M
	cur, err := a.db.Collection(revocationsCollection).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(ctx, &notes); err != nil || len(notes) == 0 {
		t.Fatalf("notes %v %v", notes, err)
	}
	for _, n := range notes {
		if strings.Contains(fmt.Sprint(n), u.ID) {
			t.Fatalf("a note names the user: %v", n)
		}
	}
	now = now.Add(revocationKeep + time.Minute)
	if _, err := a.DeleteExpiredSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.db.Collection(revocationsCollection).CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("%d notes left after revocationKeep", n)
	}
}

// A session's lookups share the cached records instead of copying them for
// every request, and a change made through the store gives the next lookup
// new records while the ones already handed out stay as they were.
func TestSessionLookupsShareTheCachedRecords(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u, _ := s.Register(ctx, reg("jaettu@example.fi"))
	tok, _, err := s.StartSession(ctx, u, false, "", "")
	if err != nil {
		t.Fatal(err)
	}
	sess1, u1, err := s.Session(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	sess2, u2, err := s.Session(ctx, tok)
	if err != nil || sess1 != sess2 || u1 != u2 {
		t.Fatalf("second lookup: %p %p / %p %p, %v", sess1, sess2, u1, u2, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _, _ = s.Session(ctx, tok) }); allocs > 1 {
		t.Errorf("a cached lookup allocates %.0f times, want at most 1 (the token's hash)", allocs)
	}
	email, err := s.RequestEmailChange(ctx, &User{ID: u1.ID, Email: u1.Email}, "uusi.osoite@example.fi")
	if err != nil {
		t.Fatal(err)
	}
	_, u3, err := s.Session(ctx, tok)
	if err != nil || u3 == u1 || u3.EmailPending != email {
		t.Fatalf("after the change: %p (was %p) pending %q, %v", u3, u1, u3.EmailPending, err)
	}
	if u1.EmailPending != "" {
		t.Fatalf("the record handed out before the change was modified: pending %q", u1.EmailPending)
	}
}
