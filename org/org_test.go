package org_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/org"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

func newDirectory(t *testing.T) *org.Directory {
	t.Helper()
	db := env.Database()
	if err := org.EnsureIndexes(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return org.NewDirectory(db)
}

// Organisations are validated, keyed by their short code, and each
// domain has one owner even when two organisations claim it at once.
func TestOrganisationsAndDomains(t *testing.T) {
	ctx := t.Context()
	d := newDirectory(t)
	if _, errs := d.Add(ctx, org.Organisation{ID: "X", NameFI: "a", Domains: []string{"not a domain"}}); len(errs) != 3 ||
		!errors.Is(errs[0], org.ErrCode) || !errors.Is(errs[1], org.ErrName) || !errors.Is(errs[2], org.ErrDomain) {
		t.Fatalf("bad organisation: %v", errs)
	}
	o, errs := d.Add(ctx, org.Organisation{ID: "pirkanmaa", NameFI: "Pirkanmaan hyvinvointialue", NameSV: "Birkalands välfärdsområde",
		Domains: []string{"PIRHA.fi", "@pirha.fi", ""}, Active: true})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !slices.Equal(o.Domains, []string{"pirha.fi"}) || o.Name("sv") != "Birkalands välfärdsområde" || o.Name("en") != "Pirkanmaan hyvinvointialue" {
		t.Fatalf("stored %+v", o)
	}
	if _, errs := d.Add(ctx, org.Organisation{ID: "pirkanmaa", NameFI: "Toinen"}); len(errs) != 1 || !errors.Is(errs[0], org.ErrCodeTaken) {
		t.Fatalf("second add of a code: %v", errs)
	}
	if _, errs := d.Add(ctx, org.Organisation{ID: "hus", NameFI: "HUS-yhtymä", Active: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := d.AddDomain(ctx, "hus", "pirha.fi"); !errors.Is(err, org.ErrDomainOwned) {
		t.Fatalf("another organisation's domain: %v", err)
	}
	if err := d.AddDomain(ctx, "pirkanmaa", "pirha.fi"); err != nil {
		t.Fatalf("adding a domain again to its owner: %v", err)
	}
	got, err := d.ByEmail(ctx, "Maija.Meikalainen@Pirha.FI")
	if err != nil || got.ID != "pirkanmaa" {
		t.Fatalf("home realm of pirha.fi: %v %v", got, err)
	}
	for _, e := range []string{"x@hus.fi", "x@evilpirha.fi", "x@pirha.fi.evil.com", "no-at", "x@"} {
		if _, err := d.ByEmail(ctx, e); !errors.Is(err, org.ErrNotFound) {
			t.Errorf("ByEmail(%q) = %v, want ErrNotFound", e, err)
		}
	}
	// Two organisations claim one domain at once: one wins.
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i, code := range []string{"pirkanmaa", "hus"} {
		wg.Go(func() { results[i] = d.AddDomain(ctx, code, "yhteinen.fi") })
	}
	wg.Wait()
	if (results[0] == nil) == (results[1] == nil) {
		t.Fatalf("both or neither claimed the domain: %v", results)
	}
	if err := d.RemoveDomain(ctx, "pirkanmaa", "pirha.fi"); err != nil {
		t.Fatal(err)
	}
	if err := d.AddDomain(ctx, "hus", "pirha.fi"); err != nil {
		t.Fatalf("a freed domain: %v", err)
	}
	if err := d.Update(ctx, "hus", "HUS-yhtymä", "HUS-sammanslutningen", false); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(ctx, "nosuch", "Nimi", "", true); !errors.Is(err, org.ErrNotFound) {
		t.Fatalf("update of an unknown code: %v", err)
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "hus" || list[0].Active || list[0].NameSV != "HUS-sammanslutningen" {
		t.Fatalf("list: %+v %v", list, err)
	}
}

// Units form a tree of any depth; renames and moves keep the id, the
// subtree and the history; a unit cannot move under itself; another
// organisation's unit is not found.
func TestUnitTree(t *testing.T) {
	ctx := t.Context()
	d := newDirectory(t)
	for _, code := range []string{"keski-suomi", "lappi"} {
		if _, errs := d.Add(ctx, org.Organisation{ID: code, NameFI: code + " hva", Active: true}); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	sote, err := d.AddUnit(ctx, "keski-suomi", "", "Sosiaali- ja terveyspalvelut", "admin")
	if err != nil {
		t.Fatal(err)
	}
	perhe, err := d.AddUnit(ctx, "keski-suomi", sote.ID, "Perhepalvelut", "admin")
	if err != nil {
		t.Fatal(err)
	}
	neuvola, err := d.AddUnit(ctx, "keski-suomi", perhe.ID, "  Neuvola   Jyväskylä ", "admin")
	if err != nil || neuvola.Name != "Neuvola Jyväskylä" {
		t.Fatalf("%+v %v", neuvola, err)
	}
	if _, err := d.AddUnit(ctx, "keski-suomi", perhe.ID, "Neuvola Jyväskylä", "admin"); !errors.Is(err, org.ErrUnitTaken) {
		t.Fatalf("a second sibling of one name: %v", err)
	}
	if _, err := d.AddUnit(ctx, "lappi", perhe.ID, "Vieras", "admin"); !errors.Is(err, org.ErrUnitNotFound) {
		t.Fatalf("a parent of another organisation: %v", err)
	}
	if err := d.RenameUnit(ctx, "lappi", neuvola.ID, "Kaapattu", "admin"); !errors.Is(err, org.ErrUnitNotFound) {
		t.Fatalf("renaming another organisation's unit: %v", err)
	}
	if _, err := d.AddUnit(ctx, "keski-suomi", "", " ", "admin"); !errors.Is(err, org.ErrUnitName) {
		t.Fatalf("empty name: %v", err)
	}
	if err := d.MoveUnit(ctx, "keski-suomi", sote.ID, neuvola.ID, "admin"); !errors.Is(err, org.ErrUnitCycle) {
		t.Fatalf("a move under its own sub-unit: %v", err)
	}
	if err := d.MoveUnit(ctx, "keski-suomi", sote.ID, sote.ID, "admin"); !errors.Is(err, org.ErrUnitCycle) {
		t.Fatalf("a move under itself: %v", err)
	}
	// Perhepalvelut becomes a top-level toimiala and is renamed; Neuvola
	// keeps its id and goes along.
	if err := d.MoveUnit(ctx, "keski-suomi", perhe.ID, "", "admin2"); err != nil {
		t.Fatal(err)
	}
	if err := d.RenameUnit(ctx, "keski-suomi", perhe.ID, "Perhe- ja sosiaalipalvelut", "admin2"); err != nil {
		t.Fatal(err)
	}
	tree, err := d.Units(ctx, "keski-suomi")
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(tree.Path(neuvola.ID), " / "); p != "Perhe- ja sosiaalipalvelut / Neuvola Jyväskylä" {
		t.Fatalf("path after the move: %q", p)
	}
	if s := tree.Subtree(perhe.ID); !slices.Equal(s, []string{perhe.ID, neuvola.ID}) {
		t.Fatalf("subtree %v", s)
	}
	if s := tree.Subtree(sote.ID); !slices.Equal(s, []string{sote.ID}) {
		t.Fatalf("subtree of the old parent %v", s)
	}
	h := tree.Unit(perhe.ID).History
	if len(h) != 3 || h[0].Name != "Perhepalvelut" || h[0].Parent != sote.ID || h[1].Parent != "" || h[1].By != "admin2" || h[2].Name != "Perhe- ja sosiaalipalvelut" {
		t.Fatalf("history %+v", h)
	}
	flat := tree.Flat()
	var names []string
	for _, e := range flat {
		names = append(names, strings.Repeat("-", e.Depth)+e.Name)
	}
	if got := strings.Join(names, ","); got != "Perhe- ja sosiaalipalvelut,-Neuvola Jyväskylä,Sosiaali- ja terveyspalvelut" {
		t.Fatalf("flat %s", got)
	}
	if other, _ := d.Units(ctx, "lappi"); len(other.Units) != 0 {
		t.Fatalf("lappi has %d units", len(other.Units))
	}
	// The light tree: the same units and paths, no history.
	light, err := d.Tree(ctx, "keski-suomi")
	if err != nil {
		t.Fatal(err)
	}
	if len(light.Units) != len(tree.Units) || light.Unit(perhe.ID).History != nil || strings.Join(light.Path(neuvola.ID), " / ") != "Perhe- ja sosiaalipalvelut / Neuvola Jyväskylä" {
		t.Fatalf("the light tree %+v", light.Units)
	}
}

// A units file (commas or semicolons, a header, a byte order mark) is
// imported once: a second import, also at the same time, creates nothing.
func TestImportUnitsCSV(t *testing.T) {
	ctx := t.Context()
	d := newDirectory(t)
	if _, errs := d.Add(ctx, org.Organisation{ID: "pohjanmaa", NameFI: "Pohjanmaan hyvinvointialue", Active: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	file := "\ufeffYksikkö;Taso 2;Taso 3\n" +
		"Sosiaali- ja terveyspalvelut;Perhepalvelut;Neuvola\n" +
		"Sosiaali- ja terveyspalvelut;Perhepalvelut;Koulukuraattorit;\n" +
		"\"Hallinto; talous\"\n" +
		"Sosiaali- ja terveyspalvelut;Vanhuspalvelut\n"
	rows, err := org.ReadUnitsCSV(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[2][0] != "Hallinto; talous" {
		t.Fatalf("rows %q", rows)
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { counts[i], errs[i] = d.ImportUnits(ctx, "pohjanmaa", rows, "cli") })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || counts[0]+counts[1] != 6 {
		t.Fatalf("two imports at once created %v (want 6 together): %v", counts, errs)
	}
	if n, err := d.ImportUnits(ctx, "pohjanmaa", rows, "cli"); n != 0 || err != nil {
		t.Fatalf("a third import created %d: %v", n, err)
	}
	tree, _ := d.Units(ctx, "pohjanmaa")
	if len(tree.Units) != 6 {
		t.Fatalf("%d units", len(tree.Units))
	}
	for _, bad := range []string{"", "a,,b\n", "\"unclosed\n"} {
		if _, err := org.ReadUnitsCSV(strings.NewReader(bad)); !errors.Is(err, org.ErrCSV) {
			t.Errorf("ReadUnitsCSV(%q) = %v", bad, err)
		}
	}
	if _, err := d.ImportUnits(ctx, "nosuch", rows, "cli"); !errors.Is(err, org.ErrNotFound) {
		t.Fatalf("import into an unknown organisation: %v", err)
	}
}

// Two moves at once that would together make a loop (A under B while B
// moves under A) both pass their checks, which see the tree before
// either write; one of them is taken back and refused, so no loop stays,
// both units stay in the tree, and the refusal is in the history.
func TestConcurrentMovesLeaveNoLoop(t *testing.T) {
	d := newDirectory(t)
	ctx := t.Context()
	if _, errs := d.Add(ctx, org.Organisation{ID: "lappi", NameFI: "Lapin hyvinvointialue", Active: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	for round := range 5 {
		a, err := d.AddUnit(ctx, "lappi", "", "Kierros "+string(rune('A'+round))+" yksi", "admin")
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.AddUnit(ctx, "lappi", "", "Kierros "+string(rune('A'+round))+" kaksi", "admin")
		if err != nil {
			t.Fatal(err)
		}
		var barrier sync.WaitGroup
		barrier.Add(2)
		org.SetMoveChecked(d, func() { barrier.Done(); barrier.Wait() }) // both checked before either writes
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = d.MoveUnit(ctx, "lappi", a.ID, b.ID, "admin") })
		wg.Go(func() { errs[1] = d.MoveUnit(ctx, "lappi", b.ID, a.ID, "admin2") })
		wg.Wait()
		org.SetMoveChecked(d, nil)
		refused := 0
		for _, err := range errs {
			if errors.Is(err, org.ErrUnitCycle) {
				refused++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		tree, err := d.Units(ctx, "lappi")
		if err != nil {
			t.Fatal(err)
		}
		if tree.InLoop(a.ID) || tree.InLoop(b.ID) {
			t.Fatalf("round %d: a loop stayed (%v)", round, errs)
		}
		if refused == 0 {
			t.Fatalf("round %d: both moves were accepted", round)
		}
		reachable := 0
		for _, e := range tree.Flat() {
			if e.ID == a.ID || e.ID == b.ID {
				reachable++
			}
		}
		if reachable != 2 {
			t.Fatalf("round %d: %d of the two units are in the tree (%v)", round, reachable, errs)
		}
	}
	// A loop read from the store (as two moves can leave one) is seen.
	loop := org.NewTree([]org.Unit{{ID: "x", Parent: "y"}, {ID: "y", Parent: "x"}, {ID: "z", Parent: "x"}})
	if !loop.InLoop("x") || !loop.InLoop("y") || loop.InLoop("z") || loop.InLoop("missing") {
		t.Fatal("InLoop")
	}
}
