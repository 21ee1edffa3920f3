package assign

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/org"
)

// Invitations: HR pastes or uploads a CSV of people without an account
// (name, e-mail, unit); each gets an e-mail with a single-use link that
// makes their account in the unit. The whole file is checked first, and
// nothing is stored unless every row is good.

// MaxInviteRows is the most rows one file may have; MaxInviteBytes its
// size (a bigger list is split into files).
const (
	MaxInviteRows  = 10_000
	MaxInviteBytes = 3 << 20
	// InviteTTL is how long an invitation link works.
	InviteTTL = 14 * 24 * time.Hour
	// maxInviteErrors is how many problems one answer lists.
	maxInviteErrors = 50
)

// Refusals of an invitations file, each naming its line.
var (
	ErrInviteEmpty     = fault.New(fault.Invalid, "invite_empty", "csv", "the file has nobody to invite")
	ErrInviteTooMany   = fault.New(fault.TooLarge, "invite_too_many", "csv", "the file has more than %d rows")
	ErrInviteTooLarge  = fault.New(fault.TooLarge, "invite_too_large", "csv", "the file is over %d MB")
	ErrInviteEncoding  = fault.New(fault.Invalid, "invite_encoding", "csv", "the file is not UTF-8 text")
	ErrInviteQuote     = fault.New(fault.Invalid, "invite_quote", "csv", "line %d: a quotation mark is missing or misplaced")
	ErrInviteColumns   = fault.New(fault.Invalid, "invite_columns", "csv", "line %d: a row has the name, the e-mail address and the unit")
	ErrInviteName      = fault.New(fault.Invalid, "invite_name", "csv", "line %d: the name must be 2–100 characters")
	ErrInviteEmail     = fault.New(fault.Invalid, "invite_email", "csv", "line %d: %s is not an e-mail address")
	ErrInviteUnit      = fault.New(fault.Invalid, "invite_unit", "csv", "line %d: the organisation has no unit %s that you may invite to")
	ErrInviteDuplicate = fault.New(fault.Invalid, "invite_duplicate", "csv", "line %d: %s is on line %d already")
	ErrInviteAccount   = fault.New(fault.Invalid, "invite_account", "csv", "line %d: %s has an account in the organisation already")
	ErrInvitePending   = fault.New(fault.Invalid, "invite_pending", "csv", "line %d: %s has been invited already")
	ErrInviteLink      = fault.New(fault.Invalid, "invite_link", "", "the invitation link is invalid, used or expired")
)

// InviteRow is one good row of an invitations file.
type InviteRow struct {
	Line        int
	Name, Email string
	Unit        string // the unit's id
}

// NormalizeEmail lower-cases and checks an address (as accounts do).
func NormalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	return s, at > 0 && strings.Contains(s[at:], ".")
}

// ReadInvitations reads and checks an invitations file: a row is the
// name, the e-mail address and the unit (its path from the top, parts
// separated by › or /, or its name when that is unique, or its id), in
// columns separated by commas or semicolons (as spreadsheets in Finland
// save), with or without a byte order mark and a header row. The units
// must be in scope (nil: the whole organisation). Every problem is
// returned with its line (the first maxInviteErrors), and no rows then.
func ReadInvitations(r io.Reader, t *org.Tree, scope []string) ([]InviteRow, []error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInviteBytes+1))
	if err != nil {
		return nil, []error{err}
	}
	if len(data) > MaxInviteBytes {
		return nil, []error{ErrInviteTooLarge.With(MaxInviteBytes >> 20)}
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		return nil, []error{ErrInviteEncoding}
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(data))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1
	units := unitIndex(t, scope)
	var rows []InviteRow
	var errs []error
	add := func(e error) bool {
		errs = append(errs, e)
		return len(errs) >= maxInviteErrors
	}
	seen := map[string]int{}
	records := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// A broken quotation swallows the rest of the file: it is
				// reported at the line where it began, and reading stops.
				add(ErrInviteQuote.With(pe.StartLine))
				break
			}
			return nil, []error{err}
		}
		line, _ := cr.FieldPos(0)
		for len(rec) > 0 && strings.TrimSpace(rec[len(rec)-1]) == "" {
			rec = rec[:len(rec)-1]
		}
		if len(rec) == 0 {
			continue
		}
		records++
		if records == 1 && isInviteHeader(rec) {
			continue
		}
		if len(rows)+len(errs) >= MaxInviteRows {
			return nil, []error{ErrInviteTooMany.With(MaxInviteRows)}
		}
		if len(rec) != 3 {
			if add(ErrInviteColumns.With(line)) {
				break
			}
			continue
		}
		name := strings.Join(strings.Fields(rec[0]), " ")
		email, okEmail := NormalizeEmail(rec[1])
		unit := units.find(rec[2])
		var rowErr error
		switch {
		case utf8.RuneCountInString(name) < 2 || utf8.RuneCountInString(name) > 100 || strings.ContainsAny(name, "<>\x00"):
			rowErr = ErrInviteName.With(line)
		case !okEmail:
			rowErr = ErrInviteEmail.With(line, strings.TrimSpace(rec[1]))
		case unit == "":
			rowErr = ErrInviteUnit.With(line, strings.TrimSpace(rec[2]))
		case seen[email] > 0:
			rowErr = ErrInviteDuplicate.With(line, email, seen[email])
		}
		if rowErr != nil {
			if add(rowErr) {
				break
			}
			continue
		}
		seen[email] = line
		rows = append(rows, InviteRow{Line: line, Name: name, Email: email, Unit: unit})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(rows) == 0 {
		return nil, []error{ErrInviteEmpty}
	}
	return rows, nil
}

func isInviteHeader(rec []string) bool {
	switch strings.ToLower(strings.TrimSpace(rec[0])) {
	case "nimi", "name", "namn":
		return true
	}
	return false
}

// unitIndex finds units by id, path or unique name, within scope.
type unitLookup struct {
	byKey map[string]string // lower-case path or name or id → id ("" when a name is ambiguous)
}

func unitIndex(t *org.Tree, scope []string) unitLookup {
	u := unitLookup{byKey: map[string]string{}}
	if t == nil {
		return u
	}
	in := map[string]bool{}
	for _, id := range scope {
		in[id] = true
	}
	for _, e := range t.Flat() {
		if scope != nil && !in[e.ID] {
			continue
		}
		u.byKey[e.ID] = e.ID
		u.byKey[strings.ToLower(strings.Join(e.Path, "›"))] = e.ID
		name := strings.ToLower(e.Name)
		if prev, ok := u.byKey[name]; ok && prev != e.ID {
			u.byKey[name] = "" // two units of that name: the path tells them apart
		} else {
			u.byKey[name] = e.ID
		}
	}
	return u
}

func (u unitLookup) find(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '›' || r == '/' || r == '>' })
	for i, p := range parts {
		parts[i] = strings.Join(strings.Fields(p), " ")
	}
	key := strings.ToLower(strings.Join(parts, "›"))
	if id, ok := u.byKey[key]; ok {
		return id
	}
	return u.byKey[strings.TrimSpace(s)]
}

// Invitation is one person invited to make an account in a unit.
type Invitation struct {
	// ID is the organisation and the address: one pending invitation a
	// person (the unique _id).
	ID        string    `bson:"_id"`
	Org       string    `bson:"org"`
	Unit      string    `bson:"unit"`
	Name      string    `bson:"name"`
	Email     string    `bson:"email"`
	TokenHash string    `bson:"token_hash"`
	CreatedBy string    `bson:"created_by"`
	CreatedAt time.Time `bson:"created_at"`
	Expires   time.Time `bson:"expires"`
	Used      bool      `bson:"used,omitempty"`
	// Batch is the file it came in; it counts once that is stored whole.
	Batch string `bson:"batch,omitempty"`
}

// Pending says whether the invitation may still be accepted at now.
func (i *Invitation) Pending(now time.Time) bool { return !i.Used && now.Before(i.Expires) }
