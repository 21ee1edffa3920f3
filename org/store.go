package org

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
)

// Collections. The seeded organisations are written by migration 2
// (package migrate) in the shape Organisation reads.
const (
	Collection        = "organisations"
	unitsCollection   = "org_units"
	domainsCollection = "org_domains" // {_id: domain, org: code}: one owner per domain
)

// Directory is the organisation directory in the database.
type Directory struct {
	db  *database.DB
	now func() time.Time
	// moveChecked, when set (by tests), runs between a move's check and
	// its write.
	moveChecked func()
}

// NewDirectory uses db.
func NewDirectory(db *database.DB) *Directory { return &Directory{db: db, now: time.Now} }

// EnsureIndexes creates the directory's indexes (idempotent): a unit's
// sub-units have distinct names, which also makes a CSV import that runs
// twice at once create each unit once.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	_, err := db.Collection(unitsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "org", Value: 1}, {Key: "parent", Value: 1}, {Key: "name", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("sibling_unique"),
	})
	if err != nil {
		return fmt.Errorf("org: indexes: %w", err)
	}
	return nil
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// List is every organisation by Finnish name.
func (d *Directory) List(ctx context.Context) ([]Organisation, error) {
	cur, err := d.db.Collection(Collection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "name_fi", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var out []Organisation
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Page is a page of the directory in its list's order (Finnish name,
// then code): the organisations after the cursor after ("" for the
// first), at most size, and the cursor of the next page ("" after the
// last); a cursor of another list is database.ErrCursor.
func (d *Directory) Page(ctx context.Context, after string, size int) ([]Organisation, string, error) {
	ks := database.Keyset{Field: "name_fi", Tie: "_id"}
	filter, err := ks.Filter(bson.D{}, after)
	if err != nil {
		return nil, "", err
	}
	cur, err := d.db.Collection(Collection).Find(ctx, filter, ks.Options(size))
	if err != nil {
		return nil, "", err
	}
	var rows []Organisation
	if err := cur.All(ctx, &rows); err != nil {
		return nil, "", err
	}
	rows, next := database.Page(rows, size, func(o Organisation) string { return database.CursorOf(o.NameFI, o.ID) })
	return rows, next, nil
}

// Get is the organisation with the short code, or ErrNotFound.
func (d *Directory) Get(ctx context.Context, code string) (*Organisation, error) {
	var o Organisation
	err := d.db.Collection(Collection).FindOne(ctx, bson.D{{Key: "_id", Value: code}}).Decode(&o)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// ByLegacy is the organisation accounts named legacy before the
// directory, or ErrNotFound.
func (d *Directory) ByLegacy(ctx context.Context, legacy string) (*Organisation, error) {
	var o Organisation
	err := d.db.Collection(Collection).FindOne(ctx, bson.D{{Key: "legacy", Value: legacy}}).Decode(&o)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// Add stores a new organisation and claims its domains. The short code is
// the _id, so two adds of one code make one organisation.
func (d *Directory) Add(ctx context.Context, o Organisation) (*Organisation, []error) {
	if errs := o.check(); len(errs) > 0 {
		return nil, errs
	}
	domains := o.Domains
	o.Domains = []string{}
	o.CreatedAt = d.now().UTC().Truncate(time.Millisecond)
	if _, err := d.db.Collection(Collection).InsertOne(ctx, o); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, []error{ErrCodeTaken}
		}
		return nil, []error{err}
	}
	for _, dom := range domains {
		if err := d.AddDomain(ctx, o.ID, dom); err != nil {
			return nil, []error{err}
		}
		o.Domains = append(o.Domains, dom)
	}
	return &o, nil
}

// Update changes an organisation's names and whether it is active.
func (d *Directory) Update(ctx context.Context, code, nameFI, nameSV string, active bool) error {
	o := Organisation{ID: code, NameFI: nameFI, NameSV: nameSV}
	if errs := o.check(); len(errs) > 0 {
		return errs[0]
	}
	r, err := d.db.Collection(Collection).UpdateOne(ctx, bson.D{{Key: "_id", Value: code}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "name_fi", Value: o.NameFI}, {Key: "name_sv", Value: o.NameSV}, {Key: "active", Value: active}}}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// AddDomain gives the organisation an e-mail domain. The domain is
// claimed by an insert under its _id, so it has one owner even when two
// administrators add it to two organisations at once; adding it again to
// its owner repairs an add cut short between the claim and the list.
func (d *Directory) AddDomain(ctx context.Context, code, domain string) error {
	dom, err := NormalizeDomain(domain)
	if err != nil {
		return err
	}
	if _, err := d.Get(ctx, code); err != nil {
		return err
	}
	_, err = d.db.Collection(domainsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: dom}, {Key: "org", Value: code}})
	if mongo.IsDuplicateKeyError(err) {
		owner, oerr := d.domainOwner(ctx, dom)
		if oerr != nil {
			return oerr
		}
		if owner != code {
			return ErrDomainOwned.With(dom)
		}
	} else if err != nil {
		return err
	}
	_, err = d.db.Collection(Collection).UpdateOne(ctx, bson.D{{Key: "_id", Value: code}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "domains", Value: dom}}}})
	return err
}

// RemoveDomain takes a domain from its organisation and frees it.
func (d *Directory) RemoveDomain(ctx context.Context, code, domain string) error {
	dom, err := NormalizeDomain(domain)
	if err != nil {
		return err
	}
	if _, err := d.db.Collection(Collection).UpdateOne(ctx, bson.D{{Key: "_id", Value: code}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "domains", Value: dom}}}}); err != nil {
		return err
	}
	_, err = d.db.Collection(domainsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: dom}, {Key: "org", Value: code}})
	return err
}

func (d *Directory) domainOwner(ctx context.Context, dom string) (string, error) {
	var c struct {
		Org string `bson:"org"`
	}
	err := d.db.Collection(domainsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: dom}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	return c.Org, err
}

// ByEmail is the organisation that owns the domain of the address (home
// realm discovery), or ErrNotFound.
func (d *Directory) ByEmail(ctx context.Context, email string) (*Organisation, error) {
	dom := DomainOf(email)
	if dom == "" {
		return nil, ErrNotFound
	}
	owner, err := d.domainOwner(ctx, dom)
	if err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, ErrNotFound
	}
	o, err := d.Get(ctx, owner)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(o.Domains, dom) { // a claim whose add was cut short
		return nil, ErrNotFound
	}
	return o, nil
}

// Units is the organisation's unit tree.
func (d *Directory) Units(ctx context.Context, code string) (*Tree, error) {
	cur, err := d.db.Collection(unitsCollection).Find(ctx, bson.D{{Key: "org", Value: code}})
	if err != nil {
		return nil, err
	}
	var units []Unit
	if err := cur.All(ctx, &units); err != nil {
		return nil, err
	}
	return NewTree(units), nil
}

// Tree is the organisation's unit tree without the units' history (lighter
// to read, for pages that walk the tree on every request).
func (d *Directory) Tree(ctx context.Context, code string) (*Tree, error) {
	cur, err := d.db.Collection(unitsCollection).Find(ctx, bson.D{{Key: "org", Value: code}},
		options.Find().SetProjection(bson.D{{Key: "history", Value: 0}}))
	if err != nil {
		return nil, err
	}
	var units []Unit
	if err := cur.All(ctx, &units); err != nil {
		return nil, err
	}
	return NewTree(units), nil
}

// Unit is one unit of the organisation, or ErrUnitNotFound (also for a
// unit of another organisation).
func (d *Directory) Unit(ctx context.Context, code, id string) (*Unit, error) {
	var u Unit
	err := d.db.Collection(unitsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "org", Value: code}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrUnitNotFound
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// AddUnit adds a unit under parent ("" for the top level).
func (d *Directory) AddUnit(ctx context.Context, code, parent, name, by string) (*Unit, error) {
	name, err := checkUnitName(name)
	if err != nil {
		return nil, err
	}
	if _, err := d.Get(ctx, code); err != nil {
		return nil, err
	}
	if parent != "" {
		if _, err := d.Unit(ctx, code, parent); err != nil {
			return nil, err
		}
	}
	now := d.now().UTC().Truncate(time.Millisecond)
	u := Unit{ID: newID(), Org: code, Parent: parent, Name: name, CreatedAt: now,
		History: []Change{{At: now, Name: name, Parent: parent, By: by}}}
	if _, err := d.db.Collection(unitsCollection).InsertOne(ctx, u); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, ErrUnitTaken
		}
		return nil, err
	}
	return &u, nil
}

// RenameUnit renames a unit; its id, sub-units and members stay.
func (d *Directory) RenameUnit(ctx context.Context, code, id, name, by string) error {
	name, err := checkUnitName(name)
	if err != nil {
		return err
	}
	u, err := d.Unit(ctx, code, id)
	if err != nil {
		return err
	}
	return d.change(ctx, u, name, u.Parent, by)
}

// MoveUnit moves a unit with its subtree under parent ("" for the top
// level). A unit cannot move under itself or its own sub-units.
//
// Two moves at once (X under Y while Y moves under X) can each pass the
// check and together make a loop, and the store has no transactions. So
// a move is checked again once written: the last write of any loop reads
// the whole loop back, and that move is taken back (to where the unit
// was, or to the top level if even that closes a loop) and refused.
func (d *Directory) MoveUnit(ctx context.Context, code, id, parent, by string) error {
	u, err := d.Unit(ctx, code, id)
	if err != nil {
		return err
	}
	if parent != "" {
		t, err := d.Units(ctx, code)
		if err != nil {
			return err
		}
		if t.Unit(parent) == nil {
			return ErrUnitNotFound
		}
		if slices.Contains(t.Subtree(id), parent) {
			return ErrUnitCycle
		}
	}
	if d.moveChecked != nil {
		d.moveChecked()
	}
	if err := d.change(ctx, u, u.Name, parent, by); err != nil || parent == "" || parent == u.Parent {
		return err
	}
	moved := *u
	moved.Parent = parent
	for _, back := range []string{u.Parent, ""} {
		t, err := d.Units(ctx, code)
		if err != nil {
			return err
		}
		if !t.InLoop(id) {
			if moved.Parent != parent {
				return ErrUnitCycle
			}
			return nil
		}
		if err := d.change(ctx, &moved, u.Name, back, by); err != nil {
			return err
		}
		moved.Parent = back
	}
	return ErrUnitCycle
}

func (d *Directory) change(ctx context.Context, u *Unit, name, parent, by string) error {
	if name == u.Name && parent == u.Parent {
		return nil
	}
	c := Change{At: d.now().UTC().Truncate(time.Millisecond), Name: name, Parent: parent, By: by}
	_, err := d.db.Collection(unitsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: u.ID}, {Key: "org", Value: u.Org}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: name}, {Key: "parent", Value: parent}}},
			{Key: "$push", Value: bson.D{{Key: "history", Value: c}}}})
	if mongo.IsDuplicateKeyError(err) {
		return ErrUnitTaken
	}
	return err
}

// ImportUnits adds the units of rows (paths from the top level, as
// ReadUnitsCSV returns them), reusing the ones that exist; it returns how
// many it created. Running it again creates nothing.
func (d *Directory) ImportUnits(ctx context.Context, code string, rows [][]string, by string) (int, error) {
	t, err := d.Units(ctx, code)
	if err != nil {
		return 0, err
	}
	if _, err := d.Get(ctx, code); err != nil {
		return 0, err
	}
	known := map[string]string{} // parent + "\x00" + name → id
	for _, u := range t.Units {
		known[u.Parent+"\x00"+u.Name] = u.ID
	}
	created := 0
	for _, path := range rows {
		parent := ""
		for _, name := range path {
			key := parent + "\x00" + name
			id, ok := known[key]
			if !ok {
				u, err := d.AddUnit(ctx, code, parent, name, by)
				switch {
				case errors.Is(err, ErrUnitTaken): // made meanwhile by another import
					var got Unit
					if err := d.db.Collection(unitsCollection).FindOne(ctx, bson.D{{Key: "org", Value: code}, {Key: "parent", Value: parent}, {Key: "name", Value: name}}).Decode(&got); err != nil {
						return created, err
					}
					id = got.ID
				case err != nil:
					return created, fmt.Errorf("%s: %w", strings.Join(path, " / "), err)
				default:
					id = u.ID
					created++
				}
				known[key] = id
			}
			parent = id
		}
	}
	return created, nil
}

const providersCollection = "org_providers"

// AddProvider registers an organisation's identity provider, its client
// secret sealed with key (the 32-byte key secret).
func (d *Directory) AddProvider(ctx context.Context, p Provider, clientSecret string, key []byte) (*Provider, []error) {
	if errs := p.check(clientSecret); len(errs) > 0 {
		return nil, errs
	}
	if _, err := d.Get(ctx, p.Org); err != nil {
		return nil, []error{err}
	}
	sealed, err := sealSecret(key, p.ID, clientSecret)
	if err != nil {
		return nil, []error{err}
	}
	p.Sealed, p.Active, p.CreatedAt = sealed, true, d.now().UTC().Truncate(time.Millisecond)
	if _, err := d.db.Collection(providersCollection).InsertOne(ctx, p); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, []error{ErrProviderTaken}
		}
		return nil, []error{err}
	}
	return &p, nil
}

// Provider is the identity provider with the id, or ErrProviderNotFound.
func (d *Directory) Provider(ctx context.Context, id string) (*Provider, error) {
	var p Provider
	err := d.db.Collection(providersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrProviderNotFound
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Providers are the organisation's identity providers, by id.
func (d *Directory) Providers(ctx context.Context, code string) ([]Provider, error) {
	cur, err := d.db.Collection(providersCollection).Find(ctx, bson.D{{Key: "org", Value: code}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := []Provider{}
	return out, cur.All(ctx, &out)
}

// SetSSORequired says whether the organisation's people must sign in
// with its identity provider (password sign-in refused for its domains).
func (d *Directory) SetSSORequired(ctx context.Context, code string, required bool) error {
	r, err := d.db.Collection(Collection).UpdateOne(ctx, bson.D{{Key: "_id", Value: code}}, bson.D{{Key: "$set", Value: bson.D{{Key: "sso_required", Value: required}}}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// SetAssignmentRemindersRequired says whether the reminders of the
// organisation's assignments go to its people whatever their own choice
// of study reminders.
func (d *Directory) SetAssignmentRemindersRequired(ctx context.Context, code string, required bool) error {
	r, err := d.db.Collection(Collection).UpdateOne(ctx, bson.D{{Key: "_id", Value: code}}, bson.D{{Key: "$set", Value: bson.D{{Key: "assignment_reminders_required", Value: required}}}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// AllProviders are every organisation's identity providers.
func (d *Directory) AllProviders(ctx context.Context) ([]Provider, error) {
	cur, err := d.db.Collection(providersCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := []Provider{}
	return out, cur.All(ctx, &out)
}
