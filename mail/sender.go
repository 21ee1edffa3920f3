package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Sender delivers the outbox's due messages over SMTP. Several senders
// (one per instance) may run on one outbox: each try of a message is
// claimed by inserting a document under a unique id first, so only one
// sender makes it.
type Sender struct {
	outbox *Outbox
	smtp   *SMTP
	log    *slog.Logger
	holder string
	// Lease is how long a claimed try belongs to its sender; a sender that
	// dies mid-try leaves the message to others after it.
	Lease time.Duration
	// Batch is how many messages go over one connection.
	Batch int
	// Poll is how often the outbox is looked at when nothing wakes the
	// sender.
	Poll time.Duration
	// Backoff is the wait after the first failed try; it doubles after
	// every further one up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// Erase removes the bodies and data of delivered messages (they can
	// hold one-time links).
	Erase bool
	// Count, when set, is told each try's result: "sent", "retry" (it
	// failed and will be tried again) or "failed" (given up).
	Count func(result string)
}

// NewSender makes a sender with the production timings: a 5-minute lease,
// batches of 50, a look every 5 seconds, back-off from 1 minute to 1 hour.
func NewSender(o *Outbox, s *SMTP, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.Default()
	}
	return &Sender{outbox: o, smtp: s, log: log, holder: randomKey()[:12], Lease: 5 * time.Minute, Batch: 50,
		Poll: 5 * time.Second, Backoff: time.Minute, MaxBackoff: time.Hour, Erase: true}
}

func (s *Sender) count(result string) {
	if s.Count != nil {
		s.Count(result)
	}
}

type claim struct {
	ID     string    `bson:"_id"` // message id # try
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
}

// Run sends until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	for {
		n, err := s.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("mail: sending", "err", err)
		}
		if n >= s.Batch {
			continue // more may be due
		}
		t := time.NewTimer(s.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.outbox.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// RunOnce makes one round: it claims up to Batch due messages, sends them
// over one connection and records each result. It returns how many it
// tried.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	now := s.outbox.now().UTC()
	coll := s.outbox.db.Collection(outboxCollection)
	cur, err := coll.Find(ctx, bson.D{{Key: "state", Value: Pending}, {Key: "next_try", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetSort(bson.D{{Key: "next_try", Value: 1}}).SetLimit(int64(s.Batch)*2).
			SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "attempts", Value: 1}}))
	if err != nil {
		return 0, err
	}
	var due []Message
	if err := cur.All(ctx, &due); err != nil {
		return 0, err
	}
	var owned []Message
	for _, d := range due {
		if len(owned) == s.Batch {
			break
		}
		try, ok, err := s.claim(ctx, d.ID, d.Attempts)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		// Read it again after the claim: another sender may have finished
		// it between the look and the claim.
		m, err := s.outbox.Message(ctx, d.ID)
		if err != nil || m.State != Pending {
			continue
		}
		m.Attempts = try
		owned = append(owned, *m)
	}
	if len(owned) == 0 {
		return 0, nil
	}
	msgs := make([]*gomail.Msg, len(owned))
	results := make([]error, len(owned))
	var toSend []*gomail.Msg
	var index []int
	for i := range owned {
		if owned[i].Text == "" && owned[i].HTML == "" {
			results[i] = fmt.Errorf("%w: the message's text is missing", ErrField)
			continue
		}
		msgs[i], results[i] = s.build(&owned[i])
		if results[i] == nil {
			toSend = append(toSend, msgs[i])
			index = append(index, i)
		}
	}
	if len(toSend) > 0 {
		sendCtx, cancel := context.WithTimeout(ctx, s.Lease/2)
		errs := s.smtp.deliver(sendCtx, toSend)
		cancel()
		for j, e := range errs {
			results[index[j]] = e
		}
	}
	var firstErr error
	for i := range owned {
		if err := s.record(ctx, &owned[i], msgs[i], results[i]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return len(owned), firstErr
}

// claim takes the message's next try by inserting its claim. A claim
// left by a sender that died (its lease over) is stepped over with the
// try after it.
func (s *Sender) claim(ctx context.Context, id string, attempts int) (int, bool, error) {
	claims := s.outbox.db.Collection(claimsCollection)
	for try := attempts + 1; try <= attempts+5; try++ {
		now := s.outbox.now().UTC()
		_, err := claims.InsertOne(ctx, claim{ID: id + "#" + strconv.Itoa(try), Holder: s.holder, Until: now.Add(s.Lease)})
		if err == nil {
			return try, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, false, err
		}
		var c claim
		if err := claims.FindOne(ctx, bson.D{{Key: "_id", Value: id + "#" + strconv.Itoa(try)}}).Decode(&c); err != nil {
			return 0, false, nil
		}
		if c.Until.After(now) {
			return 0, false, nil // another sender is on it
		}
	}
	return 0, false, nil
}

// build makes the MIME message with go-mail.
func (s *Sender) build(m *Message) (*gomail.Msg, error) {
	g := gomail.NewMsg()
	if err := g.FromFormat(s.smtp.FromName, s.smtp.From); err != nil {
		return nil, fmt.Errorf("%w: sender: %v", ErrAddress, err)
	}
	if err := g.AddToFormat(m.Name, m.To); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAddress, err)
	}
	g.Subject(m.Subject)
	g.SetMessageIDWithValue(strings.Trim(m.MessageID, "<>"))
	g.SetDateWithValue(m.CreatedAt)
	g.SetGenHeader(gomail.HeaderContentLang, m.Lang)
	g.SetGenHeaderPreformatted("Auto-Submitted", "auto-generated")
	if m.Unsubscribe != "" {
		if strings.ContainsAny(m.Unsubscribe, "\r\n<>") {
			return nil, fmt.Errorf("%w: unsubscribe link", ErrField)
		}
		// RFC 8058: one click, by POST, without signing in.
		g.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribe, "<"+m.Unsubscribe+">")
		g.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	g.SetBodyString(gomail.TypeTextPlain, m.Text)
	g.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return g, nil
}

// record writes a try's result; only the try's owner writes, so a plain
// update is enough. It keeps trying for a while: a lost write would mean
// sending again.
func (s *Sender) record(ctx context.Context, m *Message, g *gomail.Msg, sendErr error) error {
	now := s.outbox.now().UTC()
	set := bson.D{{Key: "attempts", Value: m.Attempts}}
	var unset bson.D
	switch {
	case sendErr == nil:
		s.count("sent")
		set = append(set, bson.E{Key: "state", Value: Sent}, bson.E{Key: "sent_at", Value: now}, bson.E{Key: "response", Value: clip(g.ServerResponse())})
		unset = bson.D{{Key: "last_error", Value: ""}}
		if s.Erase {
			set = append(set, bson.E{Key: "erased", Value: true})
			unset = append(unset, bson.E{Key: "text", Value: ""}, bson.E{Key: "html", Value: ""}, bson.E{Key: "data", Value: ""})
		}
	case permanent(sendErr) || errors.Is(sendErr, ErrAddress) || errors.Is(sendErr, ErrField):
		set = append(set, bson.E{Key: "state", Value: Failed}, bson.E{Key: "last_error", Value: clip(sendErr.Error())})
		s.log.Warn("mail: refused for good", "message", m.ID, "kind", m.Kind, "err", sendErr)
		s.count("failed")
	case now.After(m.GiveUpAt):
		set = append(set, bson.E{Key: "state", Value: Failed}, bson.E{Key: "last_error", Value: clip("not accepted within 48 h: " + sendErr.Error())})
		s.log.Warn("mail: gave up", "message", m.ID, "kind", m.Kind, "err", sendErr)
		s.count("failed")
	default:
		s.count("retry")
		set = append(set, bson.E{Key: "next_try", Value: now.Add(s.backoff(m.Attempts))}, bson.E{Key: "last_error", Value: clip(sendErr.Error())})
	}
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	ctx = context.WithoutCancel(ctx)
	byID := bson.D{{Key: "_id", Value: m.ID}}
	var err error
	for i := 0; i < 20; i++ {
		if sendErr == nil && m.Forget {
			_, err = s.outbox.db.Collection(outboxCollection).DeleteOne(ctx, byID)
		} else {
			_, err = s.outbox.db.Collection(outboxCollection).UpdateOne(ctx, byID, update)
		}
		if err == nil {
			break
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("mail: recording message %s: %w", m.ID, err)
	}
	if sendErr == nil && (m.Forget || s.Erase) {
		// A body left here goes with its message when the outbox is purged.
		if _, err := s.outbox.db.Collection(bodiesCollection).DeleteOne(ctx, byID); err != nil {
			return fmt.Errorf("mail: erasing message %s: %w", m.ID, err)
		}
	}
	return nil
}

// backoff is the wait after the try-th failed try: doubling from Backoff
// up to MaxBackoff, with jitter so instances do not try in step.
func (s *Sender) backoff(try int) time.Duration {
	d := s.Backoff
	for i := 1; i < try && d < s.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func clip(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}
