// Package mail is the platform's e-mail: an outbox in the database that
// every message is written to first, and a sender that delivers it over
// SMTP with retries, one instance at a time per message. It knows nothing
// of HTTP; the message texts come from a Renderer.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
)

// States of a message.
const (
	// Pending waits for its next try.
	Pending = "pending"
	// Sent was accepted by the SMTP server.
	Sent = "sent"
	// Failed was refused for good or not accepted within MaxAge.
	Failed = "failed"
	// Held is kept in the outbox because no SMTP server is configured
	// (the development mailbox); it is never sent.
	Held = "held"
)

// MaxAge is how long a message is retried before it fails.
const MaxAge = 48 * time.Hour

const (
	outboxCollection = "outbox"
	claimsCollection = "outbox_claims"
	// bodiesCollection keeps the texts and data of undelivered messages
	// apart from the outbox, so that finding due messages and counting
	// them reads small documents (the embedded store decodes every
	// document it filters).
	bodiesCollection = "outbox_bodies"
)

// body is a message's texts and data, under the message's id.
type body struct {
	ID        string            `bson:"_id"`
	UserID    string            `bson:"user_id,omitempty"`
	Text      string            `bson:"text"`
	HTML      string            `bson:"html"`
	Data      map[string]string `bson:"data,omitempty"`
	CreatedAt time.Time         `bson:"created_at"`
}

// Rendered is a message's text in both forms.
type Rendered struct{ Subject, Text, HTML string }

// Renderer turns a kind, a language and data into the message's text.
// Essential says whether the kind is essential (non-essential kinds get
// List-Unsubscribe headers and need an "unsubscribe" link in data).
type Renderer interface {
	Render(kind, lang string, data map[string]string) (Rendered, error)
	Essential(kind string) bool
}

// Request asks for one message.
type Request struct {
	To   string // the address
	Name string // the recipient's name, optional
	Kind string
	Lang string
	Data map[string]string
	// Key makes the request idempotent: a second request with the same
	// key is the same message (it is also the Message-ID). Empty keys are
	// random.
	Key string
	// Unsubscribe is the one-click unsubscribe URL of a non-essential
	// message (RFC 8058); it is also passed to the renderer.
	Unsubscribe string
	// UserID is whom the message concerns, for erasure with the account.
	UserID string
	// Forget removes the message from the outbox once it is delivered
	// (the confirmation of an account's deletion).
	Forget bool
}

// Message is a message in the outbox. Text, HTML and Data are kept in a
// document of their own until delivery; Message fills them in (older
// outboxes kept them in the message itself, which still reads).
type Message struct {
	ID          string            `bson:"_id"`
	To          string            `bson:"to"`
	Name        string            `bson:"name,omitempty"`
	UserID      string            `bson:"user_id,omitempty"`
	Kind        string            `bson:"kind"`
	Lang        string            `bson:"lang"`
	Data        map[string]string `bson:"data,omitempty"`
	Subject     string            `bson:"subject"`
	Text        string            `bson:"text,omitempty"`
	HTML        string            `bson:"html,omitempty"`
	Unsubscribe string            `bson:"unsubscribe,omitempty"`
	MessageID   string            `bson:"message_id"`
	State       string            `bson:"state"`
	Attempts    int               `bson:"attempts"`
	NextTry     time.Time         `bson:"next_try"`
	CreatedAt   time.Time         `bson:"created_at"`
	SentAt      time.Time         `bson:"sent_at,omitempty"`
	// GiveUpAt is when retrying ends: MaxAge after the message was
	// written or an administrator retried it.
	GiveUpAt time.Time `bson:"give_up_at"`
	// LastError is the SMTP server's answer or the connection error of
	// the last failed try; Response the server's answer on acceptance.
	LastError string `bson:"last_error,omitempty"`
	Response  string `bson:"response,omitempty"`
	// Erased: the bodies and data were removed after delivery (they can
	// hold one-time links).
	Erased bool `bson:"erased,omitempty"`
	// Forget: deleted once delivered.
	Forget bool `bson:"forget,omitempty"`
}

// Errors a person can act on.
var (
	ErrAddress = fault.New(fault.Invalid, "mail_address", "to", "mail: the address is not valid")
	ErrField   = fault.New(fault.Invalid, "mail_field", "", "mail: a field is too long or has control characters")
)

// Outbox keeps the messages.
type Outbox struct {
	db     *database.DB
	render Renderer
	// Hold keeps new messages in the outbox unsent (no SMTP server).
	hold   bool
	domain string
	now    func() time.Time
	wake   chan struct{}
}

// NewOutbox opens the outbox. domain names the Message-IDs (the sender's
// domain); hold keeps every message as Held (no SMTP configured).
func NewOutbox(db *database.DB, r Renderer, domain string, hold bool) *Outbox {
	if domain == "" {
		domain = "localhost"
	}
	return &Outbox{db: db, render: r, hold: hold, domain: domain, now: time.Now, wake: make(chan struct{}, 1)}
}

// Holding reports whether messages are kept unsent (development mailbox).
func (o *Outbox) Holding() bool { return o.hold }

// SetClockForTest replaces the clock.
func (o *Outbox) SetClockForTest(now func() time.Time) { o.now = now }

// EnsureIndexes creates the outbox's indexes.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	for _, m := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "state", Value: 1}, {Key: "next_try", Value: 1}}, Options: options.Index().SetName("due")},
		{Keys: bson.D{{Key: "created_at", Value: 1}}, Options: options.Index().SetName("created")},
		{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user")},
	} {
		if _, err := db.Collection(outboxCollection).Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("mail: indexes: %w", err)
		}
	}
	for _, m := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "created_at", Value: 1}}, Options: options.Index().SetName("created")},
		{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user")},
	} {
		if _, err := db.Collection(bodiesCollection).Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("mail: indexes: %w", err)
		}
	}
	return nil
}

func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsFunc(s, unicode.IsControl) || len(s) > 320 {
		return nil, ErrAddress
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, ErrAddress
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 1 || !strings.Contains(a.Address[at:], ".") && a.Address[at+1:] != "localhost" {
		return nil, ErrAddress
	}
	return a, nil
}

// checkField refuses control characters, invalid UTF-8 and overlong text
// in a header field.
func checkField(s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return ErrField
	}
	return nil
}

// Enqueue renders the message and writes it to the outbox; it returns the
// message's id. A request whose key is already in the outbox is the same
// message and is not written again.
func (o *Outbox) Enqueue(ctx context.Context, r Request) (string, error) {
	a, err := parseAddress(r.To)
	if err != nil || a.Address != strings.TrimSpace(r.To) {
		return "", ErrAddress
	}
	if err := checkField(r.Name, 200); err != nil {
		return "", fmt.Errorf("%w: name", ErrField)
	}
	if err := checkField(r.Key, 400); err != nil {
		return "", fmt.Errorf("%w: key", ErrField)
	}
	data := map[string]string{}
	for k, v := range r.Data {
		data[k] = v
	}
	essential := o.render.Essential(r.Kind)
	if !essential {
		if r.Unsubscribe == "" {
			return "", fmt.Errorf("mail: %s is not essential and needs an unsubscribe link", r.Kind)
		}
		data["unsubscribe"] = r.Unsubscribe
	} else {
		r.Unsubscribe = ""
	}
	if r.Name != "" {
		data["name"] = r.Name
	}
	text, err := o.render.Render(r.Kind, r.Lang, data)
	if err != nil {
		return "", err
	}
	if err := checkField(text.Subject, 400); err != nil {
		return "", fmt.Errorf("%w: subject", ErrField)
	}
	key := r.Key
	if key == "" {
		key = randomKey()
	}
	id := messageKey(key)
	now := o.now().UTC()
	m := Message{ID: id, To: a.Address, Name: r.Name, UserID: r.UserID, Kind: r.Kind, Lang: r.Lang,
		Subject: text.Subject, Unsubscribe: r.Unsubscribe,
		MessageID: "<" + id + "@" + o.domain + ">", Forget: r.Forget, State: Pending, NextTry: now, CreatedAt: now, GiveUpAt: now.Add(MaxAge)}
	if o.hold {
		m.State = Held
	}
	// The body first: a message is never without its body. A body whose
	// message was not written (a failure in between) is swept by Purge.
	if _, err := o.db.Collection(bodiesCollection).InsertOne(ctx, body{ID: id, UserID: r.UserID, Text: text.Text, HTML: text.HTML,
		Data: r.Data, CreatedAt: now}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return "", fmt.Errorf("mail: outbox: %w", err)
	}
	if _, err := o.db.Collection(outboxCollection).InsertOne(ctx, m); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return id, nil
		}
		return "", fmt.Errorf("mail: outbox: %w", err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return id, nil
}

// messageKey is the outbox id of an idempotency key: short, and usable in
// a Message-ID whatever the key's characters.
func messageKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Message returns one message.
func (o *Outbox) Message(ctx context.Context, id string) (*Message, error) {
	var m Message
	err := o.db.Collection(outboxCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if m.Text == "" && m.HTML == "" && !m.Erased {
		var b body
		err := o.db.Collection(bodiesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&b)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, err
		}
		m.Text, m.HTML, m.Data = b.Text, b.HTML, b.Data
	}
	return &m, nil
}

// ErrNotFound: no such message.
var ErrNotFound = fault.New(fault.NotFound, "mail_not_found", "", "mail: no such message")

// List returns the newest messages in state (all states when empty),
// at most limit.
func (o *Outbox) List(ctx context.Context, state string, limit int64) ([]Message, error) {
	filter := bson.D{}
	if state != "" {
		filter = bson.D{{Key: "state", Value: state}}
	}
	cur, err := o.db.Collection(outboxCollection).Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: 1}}).SetLimit(limit).
		SetProjection(bson.D{{Key: "text", Value: 0}, {Key: "html", Value: 0}, {Key: "data", Value: 0}}))
	if err != nil {
		return nil, err
	}
	out := []Message{}
	return out, cur.All(ctx, &out)
}

// Page is a page of the messages in state (all states when empty),
// newest first, after the cursor after ("" for the first page), at most
// size; next is the following page's cursor ("" after the last).
func (o *Outbox) Page(ctx context.Context, state, after string, size int) (msgs []Message, next string, err error) {
	ks := database.Keyset{Field: "created_at", Desc: true, Tie: "_id"}
	filter := bson.D{}
	if state != "" {
		filter = bson.D{{Key: "state", Value: state}}
	}
	if filter, err = ks.Filter(filter, after); err != nil {
		return nil, "", err
	}
	cur, err := o.db.Collection(outboxCollection).Find(ctx, filter, ks.Options(size).
		SetProjection(bson.D{{Key: "text", Value: 0}, {Key: "html", Value: 0}, {Key: "data", Value: 0}}))
	if err != nil {
		return nil, "", err
	}
	rows := []Message{}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, "", err
	}
	msgs, next = database.Page(rows, size, func(m Message) string { return database.CursorOf(m.CreatedAt, m.ID) })
	return msgs, next, nil
}

// Counts is how many messages are in each state.
func (o *Outbox) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, s := range []string{Pending, Sent, Failed, Held} {
		n, err := o.db.Collection(outboxCollection).CountDocuments(ctx, bson.D{{Key: "state", Value: s}})
		if err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, nil
}

// Retry puts a failed message back in the queue for another 48 hours;
// false when it is not a failed message.
func (o *Outbox) Retry(ctx context.Context, id string) (bool, error) {
	now := o.now().UTC()
	r, err := o.db.Collection(outboxCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: Failed}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: Pending}, {Key: "next_try", Value: now}, {Key: "give_up_at", Value: now.Add(MaxAge)}}}})
	if err != nil {
		return false, err
	}
	if r.MatchedCount == 0 {
		return false, nil
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// DeleteUser removes the messages that concern an account, sent or not
// (with the account, for erasure: a notice about an account that no
// longer exists has nothing left to say).
func (o *Outbox) DeleteUser(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	if _, err := o.db.Collection(outboxCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}}); err != nil {
		return err
	}
	_, err := o.db.Collection(bodiesCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}})
	return err
}

// Purge deletes sent and held messages older than keep and failed ones
// older than four times keep (with their bodies), claims of finished
// messages, and bodies left without a message.
func (o *Outbox) Purge(ctx context.Context, keep time.Duration) (int64, error) {
	now := o.now().UTC()
	coll := o.db.Collection(outboxCollection)
	bodies := o.db.Collection(bodiesCollection)
	var deleted int64
	for _, f := range []bson.D{
		{{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{Sent, Held}}}}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: now.Add(-keep)}}}},
		{{Key: "state", Value: Failed}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: now.Add(-4 * keep)}}}},
	} {
		ids, err := o.ids(ctx, coll, f)
		if err != nil {
			return deleted, err
		}
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), 500)]
			ids = ids[len(chunk):]
			in := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}}
			r, err := coll.DeleteMany(ctx, in)
			if err != nil {
				return deleted, err
			}
			deleted += r.DeletedCount
			if _, err := bodies.DeleteMany(ctx, in); err != nil {
				return deleted, err
			}
		}
	}
	// Bodies without a message: an enqueue that failed half-way, or a
	// purge cut short above. Only old ones, so that an enqueue under way
	// keeps its body.
	orphans, err := o.ids(ctx, bodies, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: now.Add(-time.Hour)}}}})
	if err != nil {
		return deleted, err
	}
	for _, id := range orphans {
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			if _, err := bodies.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
				return deleted, err
			}
		} else if err != nil {
			return deleted, err
		}
	}
	_, err = o.db.Collection(claimsCollection).DeleteMany(ctx, bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: now.Add(-MaxAge)}}}})
	return deleted, err
}

// ids returns the ids of the documents that match filter.
func (o *Outbox) ids(ctx context.Context, coll *database.Collection, filter bson.D) ([]string, error) {
	cur, err := coll.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}
