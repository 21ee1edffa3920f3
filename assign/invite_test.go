package assign_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/fault"
)

func codes(errs []error) []string {
	var out []string
	for _, e := range errs {
		if f, ok := fault.As(e); ok {
			out = append(out, fmt.Sprintf("%s%v", f.Code, f.Args))
		} else {
			out = append(out, e.Error())
		}
	}
	return out
}

// An invitations file: a byte order mark, semicolons (Excel in a Finnish
// locale), a header, quoted cells, units by path, name or id; every bad
// row reported by its line (address, unit, duplicate, columns, broken
// quoting) and nothing returned then; too many rows refused as a whole.
func TestReadInvitations(t *testing.T) {
	w := newWorld(t)
	_, tree := w.members()
	good := "\ufeffNimi;Sähköposti;Yksikkö\r\n" +
		"Aino Aalto;Aino.Aalto@Example.fi;Sote / Perhe\r\n" +
		"\"Berg; Bertil\";bertil@example.fi;Hallinto\r\n" +
		"Cecilia Clark;cecilia@example.fi;" + w.units["sote"] + "\r\n" +
		";;\r\n"
	rows, errs := assign.ReadInvitations(strings.NewReader(good), tree, nil)
	if len(errs) > 0 {
		t.Fatal(codes(errs))
	}
	want := []assign.InviteRow{{Line: 2, Name: "Aino Aalto", Email: "aino.aalto@example.fi", Unit: w.units["perhe"]},
		{Line: 3, Name: "Berg; Bertil", Email: "bertil@example.fi", Unit: w.units["hallinto"]},
		{Line: 4, Name: "Cecilia Clark", Email: "cecilia@example.fi", Unit: w.units["sote"]}}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows %+v", rows)
	}
	for _, tc := range []struct {
		name, csv string
		scope     []string
		want      []string
	}{
		{"bad rows", "Aino Aalto,aino@example,Sote\nBertil Berg,bertil@example.fi,Ei ole\nCecilia,cecilia@example.fi\nA,a@example.fi,Sote\nDani Dahl,BERTIL@example.fi,Sote\nEero Esa,eero@example.fi,Sote\n", nil,
			[]string{"invite_email[1 aino@example]", "invite_unit[2 Ei ole]", "invite_columns[3]", "invite_name[4]"}},
		{"a duplicate", "Bertil Berg,bertil@example.fi,Sote\nDani Dahl,BERTIL@example.fi,Sote\n", nil, []string{"invite_duplicate[2 bertil@example.fi 1]"}},
		{"broken quoting", "Aino Aalto,aino@example.fi,Sote\n\"Bertil Berg,bertil@example.fi,Sote\nCecilia Clark,cecilia@example.fi,Sote\n", nil, []string{"invite_quote[2]"}},
		{"a quote inside a cell", "Aino \"Aalto,aino@example.fi,Sote\n", nil, []string{"invite_quote[1]"}},
		{"outside the scope", "Aino Aalto,aino@example.fi,Hallinto\n", []string{w.units["sote"], w.units["perhe"]}, []string{"invite_unit[1 Hallinto]"}},
		{"only a header", "name,email,unit\n", nil, []string{"invite_empty[]"}},
		{"not UTF-8", "Aino \xe4,aino@example.fi,Sote\n", nil, []string{"invite_encoding[]"}},
	} {
		rows, errs := assign.ReadInvitations(strings.NewReader(tc.csv), tree, tc.scope)
		if got := codes(errs); rows != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v (rows %v)", tc.name, got, tc.want, rows)
		}
	}
	// 100,000 rows: refused as a whole, quickly.
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, "Henkilö %d;h%d@example.fi;Sote\n", i, i)
	}
	start := time.Now()
	rows, errs = assign.ReadInvitations(strings.NewReader(b.String()), tree, nil)
	if got := codes(errs); rows != nil || !slices.Equal(got, []string{"invite_too_large[3]"}) && !slices.Equal(got, []string{"invite_too_many[10000]"}) {
		t.Fatalf("100,000 rows: %v", got)
	}
	b.Reset()
	for i := range assign.MaxInviteRows + 1 {
		fmt.Fprintf(&b, "H %d;h%d@example.fi;Sote\n", i, i)
	}
	if _, errs := assign.ReadInvitations(strings.NewReader(b.String()), tree, nil); !slices.Equal(codes(errs), []string{"invite_too_many[10000]"}) {
		t.Fatalf("%d rows: %v", assign.MaxInviteRows+1, codes(errs))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("reading took %s", d)
	}
}

// Invitations are stored all or none: a row of someone with an account or
// already invited refuses the file; a link works once (of several at
// once, one), not after it expires, and a new invitation replaces a used
// one.
func TestInvitationsAllOrNoneAndSingleUse(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	_, tree := w.members()
	rows, errs := assign.ReadInvitations(strings.NewReader("Aino Aalto,aino@example.fi,Sote\nBertil Berg,bertil@example.fi,Perhe\n"), tree, nil)
	if len(errs) > 0 {
		t.Fatal(codes(errs))
	}
	if _, errs := w.store.Invite(ctx, "testi", "hr", "fi", rows, map[string]bool{"bertil@example.fi": true}); !slices.Equal(codes(errs), []string{"invite_account[2 bertil@example.fi]"}) {
		t.Fatalf("with an account: %v", codes(errs))
	}
	if list, _ := w.store.Invitations(ctx, "testi"); len(list) != 0 {
		t.Fatalf("a refused file stored %d invitations", len(list))
	}
	issued, errs := w.store.Invite(ctx, "testi", "hr", "fi", rows, nil)
	if len(errs) > 0 || len(issued) != 2 || issued[0].Token == "" || issued[0].Token == issued[1].Token || strings.Contains(issued[0].TokenHash, issued[0].Token) {
		t.Fatalf("issued %+v %v", issued, errs)
	}
	if _, errs := w.store.Invite(ctx, "testi", "hr", "fi", rows[:1], nil); !slices.Equal(codes(errs), []string{"invite_pending[1 aino@example.fi]"}) {
		t.Fatalf("again: %v", codes(errs))
	}
	inv, err := w.store.Invitation(ctx, issued[0].Token)
	if err != nil || inv.Unit != w.units["sote"] || inv.Name != "Aino Aalto" {
		t.Fatalf("invitation %+v %v", inv, err)
	}
	if _, err := w.store.Invitation(ctx, issued[0].Token+"x"); !errors.Is(err, assign.ErrInviteLink) {
		t.Fatalf("a wrong token: %v", err)
	}
	var wg sync.WaitGroup
	used := make([]bool, 5)
	for i := range used {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.store.UseInvitation(ctx, issued[0].Token)
			used[i] = err == nil
			if err != nil && !errors.Is(err, assign.ErrInviteLink) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(slices.DeleteFunc(used, func(b bool) bool { return !b })); n != 1 {
		t.Fatalf("the link was used %d times", n)
	}
	if _, err := w.store.Invitation(ctx, issued[0].Token); !errors.Is(err, assign.ErrInviteLink) {
		t.Fatalf("a used link: %v", err)
	}
	// A used invitation is replaced by a new one with a new link.
	again, errs := w.store.Invite(ctx, "testi", "hr", "fi", rows[:1], nil)
	if len(errs) > 0 || len(again) != 1 {
		t.Fatalf("a new invitation after use: %v", codes(errs))
	}
	if _, err := w.store.Invitation(ctx, again[0].Token); err != nil {
		t.Fatalf("the new link: %v", err)
	}
	// Expiry.
	w.now = w.now.Add(assign.InviteTTL + time.Minute)
	if _, err := w.store.UseInvitation(ctx, issued[1].Token); !errors.Is(err, assign.ErrInviteLink) {
		t.Fatalf("an expired link: %v", err)
	}
	// Purged a month after: the names and addresses go.
	if n, err := w.store.PurgeInvitations(ctx, w.now.Add(-30*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("purged too early: %d %v", n, err)
	}
	if n, err := w.store.PurgeInvitations(ctx, w.now); err != nil || n != 2 {
		t.Fatalf("purged %d %v", n, err)
	}
	if list, _ := w.store.Invitations(ctx, "testi"); len(list) != 0 {
		t.Fatalf("left %+v", list)
	}
}

// An import that stops half-way leaves nothing that works or blocks: a
// store error mid-file takes back what was written, and what a stopped
// server leaves (no batch written) never counts, so the same file then
// imports whole. A batch whose e-mails were not all queued keeps its
// links' tokens until they are, and only until then.
func TestInvitationsStoppedHalfWay(t *testing.T) {
	w := newWorld(t)
	_, tree := w.members()
	rows, errs := assign.ReadInvitations(strings.NewReader("Aino Aalto,aino@example.fi,Sote\nBertil Berg,bertil@example.fi,Perhe\nCecilia Carlsson,cecilia@example.fi,Hallinto\n"), tree, nil)
	if len(errs) > 0 {
		t.Fatal(codes(errs))
	}
	stored := func() (invitations, tokens int64) {
		t.Helper()
		var err error
		if invitations, err = w.db.Collection("invitations").CountDocuments(t.Context(), bson.D{}); err != nil {
			t.Fatal(err)
		}
		if tokens, err = w.db.Collection("invitation_tokens").CountDocuments(t.Context(), bson.D{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Cleanup(func() { crashpoint.Set(nil) })

	// A store error at the third row: the first two are taken back.
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	crashpoint.Set(func(step string) {
		if step == "invite/row" {
			if n++; n == 3 {
				cancel()
			}
		}
	})
	if issued, errs := w.store.Invite(ctx, "testi", "hr", "fi", rows, nil); len(errs) != 1 || !errors.Is(errs[0], context.Canceled) || issued != nil {
		t.Fatalf("an import that failed: %v %v", issued, errs)
	}
	if i, k := stored(); i != 0 || k != 0 {
		t.Fatalf("a failed import left %d invitations and %d tokens", i, k)
	}

	// A server stopped before the batch: its invitations stay in the
	// store but count for nothing.
	crashpoint.Set(func(step string) {
		if step == "invite/batch" {
			panic("stopped")
		}
	})
	func() {
		defer func() { _ = recover() }()
		w.store.Invite(t.Context(), "testi", "hr", "fi", rows, nil)
		t.Fatal("the import was not stopped")
	}()
	crashpoint.Set(nil)
	if i, _ := stored(); i != 3 {
		t.Fatalf("the stopped import left %d invitations, want 3 (not counted)", i)
	}
	if list, err := w.store.Invitations(t.Context(), "testi"); err != nil || len(list) != 0 {
		t.Fatalf("an unfinished import's invitations count: %v %v", list, err)
	}
	issued, errs := w.store.Invite(t.Context(), "testi", "hr", "sv", rows, nil)
	if len(errs) > 0 || len(issued) != 3 {
		t.Fatalf("the same file after a stopped import: %v", codes(errs))
	}
	for _, inv := range issued {
		if _, err := w.store.Invitation(t.Context(), inv.Token); err != nil {
			t.Fatalf("a link of the finished import: %v", err)
		}
	}

	// Its e-mails were not marked queued: ten minutes on, the batch is
	// due for queuing with every pending invitation and its token.
	if due, err := w.store.Unmailed(t.Context(), w.now); err != nil || len(due) != 0 {
		t.Fatalf("a batch of now is due already: %v %v", due, err)
	}
	if _, err := w.store.UseInvitation(t.Context(), issued[0].Token); err != nil {
		t.Fatal(err)
	}
	due, err := w.store.Unmailed(t.Context(), w.now.Add(10*time.Minute))
	if err != nil || len(due) != 1 {
		t.Fatalf("unmailed batches: %v %v", due, err)
	}
	for b, list := range due {
		if b.Lang != "sv" || b.Count != 3 || len(list) != 2 || list[0].Token != issued[1].Token || list[1].MailKey() != issued[2].MailKey() {
			t.Fatalf("the unmailed batch %+v: %+v", b, list)
		}
		if err := w.store.InvitationsMailed(t.Context(), b.ID); err != nil {
			t.Fatal(err)
		}
		var raw bson.M
		if err := w.db.Collection("invitation_batches").FindOne(t.Context(), bson.D{{Key: "_id", Value: b.ID}}).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw["tokens"]; ok {
			t.Fatal("a mailed batch keeps its links' tokens")
		}
	}
	if due, err := w.store.Unmailed(t.Context(), w.now.Add(time.Hour)); err != nil || len(due) != 0 {
		t.Fatalf("a mailed batch is due again: %v %v", due, err)
	}
}
