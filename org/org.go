// Package org is the organisation directory: the employers whose staff
// study here (names in Finnish and Swedish, a short code, the e-mail
// domains they own, active or not) and each one's tree of units
// (hyvinvointialue → toimiala → yksikkö, any depth). Units keep their id
// when they are renamed or moved, and each change is kept in the unit's
// history. It knows nothing of HTTP; the storage code is in store.go.
package org

import (
	"encoding/csv"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// Organisation is one employer. Its ID is its short code: stable, in
// addresses (/yllapito/organisaatiot/{code}) and on the command line.
type Organisation struct {
	ID     string `bson:"_id" json:"code"`
	NameFI string `bson:"name_fi" json:"name_fi"`
	NameSV string `bson:"name_sv" json:"name_sv"`
	// Domains are the e-mail domains the organisation owns (lower case,
	// each owned by one organisation at most: the claims in org_domains).
	Domains []string `bson:"domains" json:"domains"`
	Active  bool     `bson:"active" json:"active"`
	// SSORequired: addresses in Domains sign in with the organisation's
	// identity provider only (password sign-in is refused for them).
	SSORequired bool `bson:"sso_required,omitempty" json:"sso_required,omitempty"`
	// AssignmentRemindersRequired: the reminders of the organisation's
	// assignments go to its people even if they have not asked for study
	// reminders (the privacy notice says so).
	AssignmentRemindersRequired bool `bson:"assignment_reminders_required,omitempty" json:"assignment_reminders_required,omitempty"`
	// Legacy is the name accounts stored before the directory existed
	// (account.Organisations); accounts are linked by it (migration 2).
	Legacy    string    `bson:"legacy,omitempty" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"-"`
}

// Name is the organisation's name in lang (sv, else Finnish).
func (o *Organisation) Name(lang string) string {
	if lang == "sv" && o.NameSV != "" {
		return o.NameSV
	}
	return o.NameFI
}

// Unit is one node of an organisation's unit tree.
type Unit struct {
	ID     string `bson:"_id" json:"id"`
	Org    string `bson:"org" json:"-"`
	Parent string `bson:"parent" json:"parent,omitempty"` // "" for a top-level unit
	Name   string `bson:"name" json:"name"`
	// History is every name and place the unit had, oldest first; the
	// last entry is the current one.
	History   []Change  `bson:"history" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"-"`
}

// Change is one step of a unit's history.
type Change struct {
	At     time.Time `bson:"at"`
	Name   string    `bson:"name"`
	Parent string    `bson:"parent"`
	By     string    `bson:"by,omitempty"` // who made it (user id, or "cli")
}

// Refusals.
var (
	ErrCode         = fault.New(fault.Invalid, "org_code_invalid", "code", "the short code is 2–32 characters: a–z, 0–9 and -")
	ErrName         = fault.New(fault.Invalid, "org_name_invalid", "name_fi", "the name must be 2–150 characters")
	ErrDomain       = fault.New(fault.Invalid, "org_domain_invalid", "domains", "an e-mail domain is like example.fi")
	ErrCodeTaken    = fault.New(fault.Conflict, "org_code_taken", "code", "another organisation has that short code")
	ErrDomainOwned  = fault.New(fault.Conflict, "org_domain_owned", "domains", "the domain %s belongs to another organisation")
	ErrNotFound     = fault.New(fault.NotFound, "org_not_found", "", "no such organisation")
	ErrUnitName     = fault.New(fault.Invalid, "org_unit_name_invalid", "name", "a unit's name must be 1–150 characters")
	ErrUnitTaken    = fault.New(fault.Conflict, "org_unit_taken", "name", "the unit already has a sub-unit of that name")
	ErrUnitNotFound = fault.New(fault.NotFound, "org_unit_not_found", "unit", "no such unit in this organisation")
	ErrUnitCycle    = fault.New(fault.Invalid, "org_unit_cycle", "parent", "a unit cannot move under itself or under one of its own sub-units")
	ErrCSV          = fault.New(fault.Invalid, "org_units_csv", "file", "line %d of the units file: %s")
)

var codeRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$`)
var domainRE = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// ValidCode says whether c can be a short code.
func ValidCode(c string) bool { return len(c) >= 2 && codeRE.MatchString(c) }

// NormalizeDomain lower-cases and checks an e-mail domain.
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "@")
	if len(d) > 253 || !domainRE.MatchString(d) {
		return "", ErrDomain
	}
	return d, nil
}

// DomainOf is the domain of an e-mail address ("" when it has none).
func DomainOf(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	d, err := NormalizeDomain(email[i+1:])
	if err != nil {
		return ""
	}
	return d
}

// check validates and normalises a new or edited organisation.
func (o *Organisation) check() []error {
	var errs []error
	o.ID = strings.TrimSpace(o.ID)
	if !ValidCode(o.ID) {
		errs = append(errs, ErrCode)
	}
	o.NameFI, o.NameSV = strings.TrimSpace(o.NameFI), strings.TrimSpace(o.NameSV)
	if n := utf8.RuneCountInString(o.NameFI); n < 2 || n > 150 {
		errs = append(errs, ErrName)
	}
	if n := utf8.RuneCountInString(o.NameSV); n > 150 || n == 1 {
		errs = append(errs, ErrName)
	}
	domains := make([]string, 0, len(o.Domains))
	for _, d := range o.Domains {
		if strings.TrimSpace(d) == "" {
			continue
		}
		n, err := NormalizeDomain(d)
		if err != nil {
			errs = append(errs, ErrDomain)
			break
		}
		if !slices.Contains(domains, n) {
			domains = append(domains, n)
		}
	}
	o.Domains = domains
	return errs
}

func checkUnitName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	if n := utf8.RuneCountInString(name); n < 1 || n > 150 || !utf8.ValidString(name) {
		return "", ErrUnitName
	}
	return name, nil
}

// Tree is an organisation's units, for walking.
type Tree struct {
	Units    []Unit
	byID     map[string]*Unit
	children map[string][]*Unit
}

// NewTree indexes units (of one organisation).
func NewTree(units []Unit) *Tree {
	t := &Tree{Units: units, byID: map[string]*Unit{}, children: map[string][]*Unit{}}
	for i := range t.Units {
		u := &t.Units[i]
		t.byID[u.ID] = u
	}
	for i := range t.Units {
		u := &t.Units[i]
		t.children[u.Parent] = append(t.children[u.Parent], u)
	}
	for _, c := range t.children {
		slices.SortFunc(c, func(a, b *Unit) int { return strings.Compare(a.Name, b.Name) })
	}
	return t
}

// Unit is the unit with id, or nil.
func (t *Tree) Unit(id string) *Unit { return t.byID[id] }

// Children are the direct sub-units of id ("" for the top level), by name.
func (t *Tree) Children(id string) []*Unit { return t.children[id] }

// Subtree is id and every unit below it.
func (t *Tree) Subtree(id string) []string {
	if t.byID[id] == nil {
		return nil
	}
	out := []string{id}
	seen := map[string]bool{id: true}
	for i := 0; i < len(out); i++ {
		for _, c := range t.children[out[i]] {
			if !seen[c.ID] { // a cycle left by two moves at once ends here
				seen[c.ID] = true
				out = append(out, c.ID)
			}
		}
	}
	return out
}

// InLoop says whether id's chain of parents comes back to id (which two
// moves at once can leave behind; see Directory.MoveUnit).
func (t *Tree) InLoop(id string) bool {
	u := t.byID[id]
	for i := 0; u != nil && i <= len(t.Units); i++ {
		if u = t.byID[u.Parent]; u != nil && u.ID == id {
			return true
		}
	}
	return false
}

// Path is the names from the top level down to id.
func (t *Tree) Path(id string) []string {
	var p []string
	for u := t.byID[id]; u != nil && len(p) <= len(t.Units); u = t.byID[u.Parent] {
		p = append(p, u.Name)
	}
	slices.Reverse(p)
	return p
}

// Entry is a unit with its depth and path, for a choice list.
type Entry struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Depth int      `json:"depth"`
	Path  []string `json:"path"`
}

// Flat is every unit depth first, siblings by name.
func (t *Tree) Flat() []Entry {
	var out []Entry
	seen := map[string]bool{}
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, u := range t.children[parent] {
			if seen[u.ID] {
				continue
			}
			seen[u.ID] = true
			out = append(out, Entry{ID: u.ID, Name: u.Name, Depth: depth, Path: t.Path(u.ID)})
			walk(u.ID, depth+1)
		}
	}
	walk("", 0)
	return out
}

// ReadUnitsCSV reads a units file: one unit a row, given by its path from
// the top level, one name a column ("Sosiaalipalvelut,Perhepalvelut,
// Neuvola"); empty trailing cells are ignored, a row may repeat the
// parents of the rows before it, and a first row "yksikkö"/"unit"/"path"
// … is a header. Commas or semicolons (as spreadsheets in Finland save)
// separate the columns.
func ReadUnitsCSV(r io.Reader) ([][]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, 10<<20))
	if err != nil {
		return nil, err
	}
	data = []byte(strings.TrimPrefix(string(data), "\ufeff"))
	first, _, _ := strings.Cut(string(data), "\n")
	cr := csv.NewReader(strings.NewReader(string(data)))
	if strings.Count(first, ";") > strings.Count(first, ",") {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1
	var rows [][]string
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, ErrCSV.With(pe.Line, pe.Err.Error())
			}
			return nil, err
		}
		for len(rec) > 0 && strings.TrimSpace(rec[len(rec)-1]) == "" {
			rec = rec[:len(rec)-1]
		}
		if len(rec) == 0 {
			continue
		}
		if line == 1 && isHeader(rec[0]) {
			continue
		}
		path := make([]string, len(rec))
		for i, name := range rec {
			n, err := checkUnitName(name)
			if err != nil {
				return nil, ErrCSV.With(line, "a unit's name must be 1–150 characters, and no column may be empty before the last")
			}
			path[i] = n
		}
		rows = append(rows, path)
	}
	if len(rows) == 0 {
		return nil, ErrCSV.With(1, "the file has no units")
	}
	return rows, nil
}

func isHeader(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yksikkö", "yksikko", "unit", "enhet", "path", "polku", "taso 1", "level 1":
		return true
	}
	return false
}
