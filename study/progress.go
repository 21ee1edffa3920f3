// Package study keeps what learners do in the course: their progress
// records of sections (opened, time, scroll, played media, completion),
// their private answers to learning tasks, and the moves of records when
// the studio renames or archives sections.
package study

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/cache"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/notify"
	"github.com/tyokyky/tyokyky/internal/poll"
)

const (
	progressCollection = "progress"
	answersCollection  = "task_answers"
	// digestsCollection keeps, per learner (_id the user), when each
	// section was completed: one lookup answers the exam's eligibility
	// rule instead of one per section of the course (see Completions).
	digestsCollection = "progress_digests"

	// MaxHeartbeat caps the time one heartbeat may add.
	MaxHeartbeat = 30
	// MaxAnswerLen bounds a learning-task answer (characters).
	MaxAnswerLen = 20000
)

// Answer is a learner's private answer to a learning task.
type Answer struct {
	ID        string    `bson:"_id" json:"-"`
	UserID    string    `bson:"user_id" json:"-"`
	Task      string    `bson:"task" json:"task"`
	Text      string    `bson:"text" json:"text"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// Progress keeps learners' progress and answers.
type Progress struct {
	db    *database.DB
	now   func() time.Time
	locks *database.Locks
	// A learner's records and answers are read on every signed-in page;
	// they are cached for a few seconds and dropped at once by every
	// write made through this process. The maps are shared: read only.
	records *cache.TTL[map[string]*course.SectionProgress]
	answers *cache.TTL[map[string]*Answer]
	// keys, where set, lists the records a learner can have (see Keys).
	keys func() (sections, tasks []string)
	// noted are the completions this process has written to the
	// learners' digests (user|section), so that later events of a
	// completed section write nothing more.
	noted *cache.TTL[bool]
	// changed, where set, is told of every write of a learner's records
	// or answers (OnChange).
	changed notify.Listeners
}

// OnChange has f told the learner's id after every write of their
// records or answers made through this store (the reports' summaries
// follow them). Listeners may be added while the store runs; each is told.
func (p *Progress) OnChange(f func(userID string)) { p.changed.Add(f) }

// Option configures a Progress.
type Option func(*Progress)

// Keys tells the store which records a learner can have: the sections
// ("module/section") and task keys of the published course (the course's
// RecordKeys). Where the store's filters scan (database.FiltersScan:
// FerretDB), a learner's records and answers are then read by _id, one
// lookup each, rather than by a filter on user_id that decodes every
// learner's records. Records of sections no longer in the course are not
// read that way; the learner's export and erasure still find them all.
func Keys(f func() (sections, tasks []string)) Option {
	return func(p *Progress) { p.keys = f }
}

// CacheTTL bounds how stale another instance's writes can look.
const CacheTTL = 5 * time.Second

// NewProgress uses db.
func NewProgress(db *database.DB, opts ...Option) *Progress {
	p := &Progress{db: db, now: time.Now, locks: database.NewLocks(),
		records: cache.New[map[string]*course.SectionProgress](CacheTTL, 100_000),
		answers: cache.New[map[string]*Answer](CacheTTL, 100_000),
		noted:   cache.New[bool](time.Hour, 200_000)}
	for _, o := range opts {
		o(p)
	}
	return p
}

// byID reports whether a learner's documents are read by _id (Keys).
func (p *Progress) byID() bool { return p.keys != nil && p.db.FiltersScan() }

// lookupParallel is how many _id lookups of one learner run at once.
const lookupParallel = 4

// findByIDs reads the documents of coll with the given _ids (those that
// exist), a few lookups at a time, decoding each with decode.
func findByIDs(ctx context.Context, coll *database.Collection, ids []string, decode func(*mongo.SingleResult) error) error {
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan string)
	)
	for range min(lookupParallel, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				r := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}})
				if errors.Is(r.Err(), mongo.ErrNoDocuments) {
					continue
				}
				mu.Lock()
				err := r.Err()
				if err == nil {
					err = decode(r)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return firstErr
}

func (p *Progress) forget(userID string) {
	p.records.Delete(userID)
	p.answers.Delete(userID)
	p.changed.Tell(userID)
}

// EnsureIndexes creates the indexes of progress and answers.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	for _, c := range []string{progressCollection, answersCollection, receiptsCollection} {
		if _, err := db.Collection(c).Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user"),
		}); err != nil {
			return fmt.Errorf("study: progress indexes: %w", err)
		}
	}
	return nil
}

// Event is something that happened on a section page.
type Event struct {
	Kind    string  `json:"event"`             // opened | heartbeat | completed | played
	Seconds int     `json:"seconds,omitempty"` // heartbeat: seconds visible since the last one
	Scroll  float64 `json:"scroll,omitempty"`  // 0..1, how far down the page
	// played: the media item, the playback position and the time ranges
	// (seconds) played since the page was opened.
	Media    string       `json:"media,omitempty"`
	Position float64      `json:"position,omitempty"`
	Ranges   [][2]float64 `json:"ranges,omitempty"`
	// Duration of the media item, in seconds: set by the server from the
	// media catalog. Only when the catalog does not know it (a file stored
	// without ffprobe) is the player's ReportedDuration used.
	Duration         float64 `json:"-"`
	ReportedDuration float64 `json:"duration,omitempty"`
	// Required are the section's media items the "video" rule waits for
	// (server-set).
	Required []string `json:"-"`
}

// VideoDone is the share of a video to play for the "video" rule.
const VideoDone = 0.9

// MaxRanges bounds the ranges one played event may carry.
const MaxRanges = 200

// Errors of progress events.
var (
	ErrBadEvent     = fault.New(fault.Invalid, "progress_bad_event", "", "unknown event")
	ErrNotCompleted = fault.New(fault.Conflict, "progress_rule_not_met", "", "the section's completion rule is not met")
	ErrBadPlayed    = fault.New(fault.Invalid, "progress_bad_played", "", "a played event needs a media item of this section, a position within it and at most 200 ranges [start, end] inside its duration")
)

func progressID(userID, module, section string) string { return userID + "|" + module + "/" + section }

// Record applies an event to a learner's record of a section. Updates are
// single-document and idempotent where they can be ($max, $min,
// $setOnInsert); two tabs or devices never lose an update, and a race of
// first writes is retried.
func (p *Progress) Record(ctx context.Context, userID string, sec *course.Section, ev Event) (*course.SectionProgress, error) {
	now := p.now().UTC().Truncate(time.Millisecond)
	set := bson.D{}
	if ev.Scroll > 0 {
		if ev.Scroll > 1 {
			ev.Scroll = 1
		}
		set = append(set, bson.E{Key: "scroll", Value: ev.Scroll})
	}
	update := bson.D{
		{Key: "$setOnInsert", Value: bson.D{{Key: "user_id", Value: userID}, {Key: "module", Value: sec.Module.Slug}, {Key: "section", Value: sec.Slug}, {Key: "first_opened", Value: now}}},
		{Key: "$max", Value: bson.D{{Key: "last_opened", Value: now}}},
	}
	switch ev.Kind {
	case "opened":
	case "heartbeat":
		s := ev.Seconds
		if s < 0 {
			s = 0
		}
		if s > MaxHeartbeat {
			s = MaxHeartbeat
		}
		update = append(update, bson.E{Key: "$inc", Value: bson.D{{Key: "seconds", Value: s}}})
	case "completed":
		if sec.Completion != course.CompleteOnView {
			return nil, ErrNotCompleted
		}
		update = append(update, bson.E{Key: "$min", Value: bson.D{{Key: "completed_at", Value: now}}})
	case "played":
		return p.recordPlayed(ctx, userID, sec, ev, update, set)
	case "task-answered": // internal: an answer was saved
		if sec.Completion == course.CompleteOnTask {
			update = append(update, bson.E{Key: "$min", Value: bson.D{{Key: "completed_at", Value: now}}})
		}
	default:
		return nil, ErrBadEvent
	}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	id := progressID(userID, sec.Module.Slug, sec.Slug)
	defer p.locks.Lock(id)()
	return p.upsert(ctx, userID, id, update)
}

// upsert applies an update to a progress record, creating it when needed;
// a race of first writes is retried.
func (p *Progress) upsert(ctx context.Context, userID, id string, update bson.D) (*course.SectionProgress, error) {
	defer p.forget(userID)
	coll := p.db.Collection(progressCollection)
	var out course.SectionProgress
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update,
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&out)
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("study: progress: %w", err)
	}
	if out.CompletedAt != nil {
		if err := p.noteCompleted(ctx, userID, out.Module+"/"+out.Section, *out.CompletedAt); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// noteCompleted writes a completion to the learner's digest, once per
// process and section ($min: a completion written twice, or by two
// instances, keeps the first time).
func (p *Progress) noteCompleted(ctx context.Context, userID, key string, at time.Time) error {
	if _, ok := p.noted.Get(userID + "|" + key); ok {
		return nil
	}
	update := bson.D{{Key: "$min", Value: bson.D{{Key: "done." + digestField(key), Value: at.UTC()}}}}
	var err error
	for range 5 {
		_, err = p.db.Collection(digestsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}}, update, options.UpdateOne().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("study: digest: %w", err)
	}
	p.noted.Put(userID+"|"+key, userID, true)
	return nil
}

// digestField is a section key as a field name of the digest (a path
// separator or a leading $ could not be one).
func digestField(key string) string {
	return strings.NewReplacer(".", "%2E", "$", "%24").Replace(key)
}

// Completions are the learner's completed sections as their digest
// keeps them (records with Module, Section and CompletedAt only), read
// with one lookup: enough for the exam's eligibility rule. Completions
// only ever come in (a section's completion stays; records moved by a
// structure change drop the digests they were in), so a rule met here is
// met by the records; one not met may still be (a completion written
// before digests were kept): read ForUser then, and SaveCompletions.
func (p *Progress) Completions(ctx context.Context, userID string) (map[string]*course.SectionProgress, error) {
	var d struct {
		Done map[string]time.Time `bson:"done"`
	}
	err := p.db.Collection(digestsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return map[string]*course.SectionProgress{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("study: digest: %w", err)
	}
	out := make(map[string]*course.SectionProgress, len(d.Done))
	for field, at := range d.Done {
		key := strings.NewReplacer("%2E", ".", "%24", "$").Replace(field)
		module, section, ok := strings.Cut(key, "/")
		if !ok {
			continue
		}
		at := at
		out[key] = &course.SectionProgress{Module: module, Section: section, CompletedAt: &at}
	}
	return out, nil
}

// SaveCompletions writes the completed sections of records (a learner's
// ForUser) to their digest: what was completed before digests were kept
// is found with one lookup from then on.
func (p *Progress) SaveCompletions(ctx context.Context, userID string, records map[string]*course.SectionProgress) error {
	for key, r := range records {
		if r.CompletedAt != nil {
			if err := p.noteCompleted(ctx, userID, key, *r.CompletedAt); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropDigest deletes a learner's digest (records moved, or the learner
// deleted); the next start of the exam reads the records and writes it
// again.
func (p *Progress) dropDigest(ctx context.Context, userID string) error {
	p.noted.DeleteGroup(userID)
	_, err := p.db.Collection(digestsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}})
	return err
}

// ForUser is all of a learner's records, by "module/section".
func (p *Progress) ForUser(ctx context.Context, userID string) (map[string]*course.SectionProgress, error) {
	return p.records.GetOrLoad(userID, func() (map[string]*course.SectionProgress, string, error) {
		m, err := p.loadRecords(ctx, userID)
		return m, "", err
	})
}

func (p *Progress) loadRecords(ctx context.Context, userID string) (map[string]*course.SectionProgress, error) {
	if p.byID() {
		sections, _ := p.keys()
		ids := make([]string, len(sections))
		for i, k := range sections {
			ids[i] = userID + "|" + k
		}
		out := make(map[string]*course.SectionProgress, len(ids))
		err := findByIDs(ctx, p.db.Collection(progressCollection), ids, func(r *mongo.SingleResult) error {
			var x course.SectionProgress
			if err := r.Decode(&x); err != nil {
				return err
			}
			out[x.Module+"/"+x.Section] = &x
			return nil
		})
		return out, err
	}
	cur, err := p.db.Collection(progressCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return nil, err
	}
	var list []*course.SectionProgress
	if err := cur.All(ctx, &list); err != nil {
		return nil, err
	}
	out := make(map[string]*course.SectionProgress, len(list))
	for _, x := range list {
		out[x.Module+"/"+x.Section] = x
	}
	return out, nil
}

// ErrAnswerTooLong is returned for answers over MaxAnswerLen characters.
var ErrAnswerTooLong = fault.New(fault.Invalid, "answer_too_long", "answer", "answer too long")

// SaveAnswer stores (or replaces) a learner's answer and, for sections
// completed by a task, completes the section.
func (p *Progress) SaveAnswer(ctx context.Context, userID string, sec *course.Section, taskID, text string) (*Answer, error) {
	if utf8.RuneCountInString(text) > MaxAnswerLen || !utf8.ValidString(text) {
		return nil, ErrAnswerTooLong
	}
	key := course.TaskKey(sec, taskID)
	unlock := p.locks.Lock(userID + "|" + key)
	out, err := p.storeAnswer(ctx, userID, key, text)
	unlock()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) != "" {
		if _, err := p.Record(ctx, userID, sec, Event{Kind: "task-answered"}); err != nil {
			// The answer stands (it is what the learner wrote); the
			// progress event is recorded again by the next save.
			return out, fmt.Errorf("%w: %w", ErrNotRecorded, err)
		}
	}
	return out, nil
}

// storeAnswer writes an answer; the caller holds the answer's lock.
func (p *Progress) storeAnswer(ctx context.Context, userID, key, text string) (*Answer, error) {
	now := p.now().UTC().Truncate(time.Millisecond)
	defer p.forget(userID)
	var out Answer
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = p.db.Collection(answersCollection).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: userID + "|" + key}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "text", Value: text}, {Key: "updated_at", Value: now}}},
				{Key: "$setOnInsert", Value: bson.D{{Key: "user_id", Value: userID}, {Key: "task", Value: key}, {Key: "created_at", Value: now}}},
			}, options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&out)
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("study: answer: %w", err)
	}
	return &out, nil
}

// ErrNotRecorded: SaveAnswer stored the answer (and returns it)
// but could not record the task in the learner's progress; the caller
// tells the learner the answer is saved and logs the rest.
var ErrNotRecorded = errors.New("study: the answer is saved, its progress event is not")

// Answers are a learner's answers, by task key.
func (p *Progress) Answers(ctx context.Context, userID string) (map[string]*Answer, error) {
	return p.answers.GetOrLoad(userID, func() (map[string]*Answer, string, error) {
		m, err := p.loadAnswers(ctx, userID)
		return m, "", err
	})
}

func (p *Progress) loadAnswers(ctx context.Context, userID string) (map[string]*Answer, error) {
	if p.byID() {
		_, tasks := p.keys()
		ids := make([]string, len(tasks))
		for i, k := range tasks {
			ids[i] = userID + "|" + k
		}
		out := make(map[string]*Answer, len(ids))
		err := findByIDs(ctx, p.db.Collection(answersCollection), ids, func(r *mongo.SingleResult) error {
			var a Answer
			if err := r.Decode(&a); err != nil {
				return err
			}
			out[a.Task] = &a
			return nil
		})
		return out, err
	}
	cur, err := p.db.Collection(answersCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return nil, err
	}
	var list []*Answer
	if err := cur.All(ctx, &list); err != nil {
		return nil, err
	}
	out := make(map[string]*Answer, len(list))
	for _, a := range list {
		out[a.Task] = a
	}
	return out, nil
}

// DeleteUser removes everything kept of a learner's studies.
func (p *Progress) DeleteUser(ctx context.Context, userID string) error {
	defer p.forget(userID)
	for _, c := range []string{progressCollection, answersCollection, receiptsCollection, headsCollection} {
		if _, err := p.db.Collection(c).DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}}); err != nil {
			return err
		}
	}
	return p.dropDigest(ctx, userID)
}

// LearnersIn counts the learners with progress records of a section, or
// of any section of the module when section is "" (the studio says how
// many an archiving affects).
func (p *Progress) LearnersIn(ctx context.Context, module, section string) (int, error) {
	filter := bson.D{{Key: "module", Value: module}}
	if section != "" {
		filter = append(filter, bson.E{Key: "section", Value: section})
	}
	cur, err := p.db.Collection(progressCollection).Find(ctx, filter,
		options.Find().SetProjection(bson.D{{Key: "user_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("study: progress: %w", err)
	}
	var docs []struct {
		UserID string `bson:"user_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("study: progress: %w", err)
	}
	users := map[string]bool{}
	for _, d := range docs {
		users[d.UserID] = true
	}
	return len(users), nil
}

// SetAside moves the records and answers of an archived section (or of
// every section of an archived module, section "") to an address no page
// can have, module/section@stamp: they are kept, and a new section or
// module that takes the address later starts without them.
func (p *Progress) SetAside(ctx context.Context, module, section, stamp string) (int, error) {
	if section == "" {
		return p.relocate(ctx, []relocation{{module: module, toModule: module + "@" + stamp}})
	}
	return p.relocate(ctx, []relocation{{module: module, section: section, toModule: module, toSection: section + "@" + stamp}})
}

// FollowRedirects moves the records and answers of every section address
// that redirects to another section (redirects.yaml: renamed sections
// and modules) to where it leads, so that nobody's progress is lost with
// an old address. A record the new address already has is kept as it is,
// and the old one stays beside it. It is idempotent, so it runs after
// every structure change and again later for records that instances
// which had not yet seen the change wrote at the old address. It returns
// how many records and answers it moved.
func (p *Progress) FollowRedirects(ctx context.Context, redirects map[string]string) (int, error) {
	moves := map[[2]string][2]string{}
	for from, to := range redirects {
		m, s, ok := sectionAddress(from)
		m2, s2, ok2 := sectionAddress(to)
		if ok && ok2 {
			moves[[2]string{m, s}] = [2]string{m2, s2}
		}
	}
	if len(moves) == 0 {
		return 0, nil
	}
	rows, err := p.RecordRows(ctx)
	if err != nil {
		return 0, err
	}
	var list []relocation
	seen := map[[2]string]bool{}
	for _, r := range rows {
		at := [2]string{r.Module, r.Section}
		if to, ok := moves[at]; ok && !seen[at] {
			seen[at] = true
			list = append(list, relocation{module: at[0], section: at[1], toModule: to[0], toSection: to[1]})
		}
	}
	// Answers may be at an address without a record: check them all.
	for at, to := range moves {
		if !seen[at] {
			list = append(list, relocation{module: at[0], section: at[1], toModule: to[0], toSection: to[1], answersOnly: true})
		}
	}
	return p.relocate(ctx, list)
}

// sectionAddress splits /osiot/module/section.
func sectionAddress(u string) (module, section string, ok bool) {
	rest, ok := strings.CutPrefix(u, "/osiot/")
	if !ok {
		return "", "", false
	}
	module, section, ok = strings.Cut(rest, "/")
	return module, section, ok && module != "" && section != "" && !strings.Contains(section, "/")
}

// relocation moves the records of module/section to toModule/toSection;
// an empty section stands for every section of the module (which keep
// their address parts). answersOnly: no progress record is there.
type relocation struct {
	module, section, toModule, toSection string
	answersOnly                          bool
}

// relocate makes the moves: the progress records of each address with a
// query, the answers (keyed module.section.task) in one pass over them
// all (a rare operation; no pattern queries needed).
func (p *Progress) relocate(ctx context.Context, moves []relocation) (int, error) {
	moved := 0
	users := map[string]bool{}
	defer func() {
		for u := range users {
			p.forget(u)
		}
	}()
	move := func(coll string, doc bson.M, newID string, set bson.M) error {
		oldID := doc["_id"]
		for k, v := range set {
			doc[k] = v
		}
		doc["_id"] = newID
		_, err := p.db.Collection(coll).InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := p.db.Collection(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: oldID}}); err != nil {
			return err
		}
		moved++
		return nil
	}
	for _, mv := range moves {
		if mv.answersOnly {
			continue
		}
		filter := bson.D{{Key: "module", Value: mv.module}}
		if mv.section != "" {
			filter = append(filter, bson.E{Key: "section", Value: mv.section})
		}
		cur, err := p.db.Collection(progressCollection).Find(ctx, filter)
		if err != nil {
			return moved, fmt.Errorf("study: progress: %w", err)
		}
		var records []bson.M
		if err := cur.All(ctx, &records); err != nil {
			return moved, fmt.Errorf("study: progress: %w", err)
		}
		for _, r := range records {
			user, _ := r["user_id"].(string)
			sec, _ := r["section"].(string)
			to := mv.toSection
			if mv.section == "" {
				to = sec
			}
			if !users[user] {
				// The digest goes before the records move (a completion
				// it kept may be moved away), and again after all moved.
				if err := p.dropDigest(ctx, user); err != nil {
					return moved, fmt.Errorf("study: digest: %w", err)
				}
			}
			users[user] = true
			if err := move(progressCollection, r, progressID(user, mv.toModule, to), bson.M{"module": mv.toModule, "section": to}); err != nil {
				return moved, fmt.Errorf("study: progress: %w", err)
			}
		}
	}
	for u := range users {
		if err := p.dropDigest(ctx, u); err != nil {
			return moved, fmt.Errorf("study: digest: %w", err)
		}
	}
	if len(moves) == 0 {
		return moved, nil
	}
	cur, err := p.db.Collection(answersCollection).Find(ctx, bson.D{})
	if err != nil {
		return moved, fmt.Errorf("study: answers: %w", err)
	}
	var answers []bson.M
	if err := cur.All(ctx, &answers); err != nil {
		return moved, fmt.Errorf("study: answers: %w", err)
	}
	for _, a := range answers {
		task, _ := a["task"].(string)
		for _, mv := range moves {
			prefix := mv.module + "." + mv.section + "."
			if mv.section == "" {
				prefix = mv.module + "."
			}
			rest, ok := strings.CutPrefix(task, prefix)
			if !ok {
				continue
			}
			key := mv.toModule + "." + mv.toSection + "." + rest
			if mv.section == "" {
				key = mv.toModule + "." + rest
			}
			user, _ := a["user_id"].(string)
			users[user] = true
			if err := move(answersCollection, a, user+"|"+key, bson.M{"task": key}); err != nil {
				return moved, fmt.Errorf("study: answers: %w", err)
			}
			break
		}
	}
	return moved, nil
}

// KeepUpWithRedirects follows the published course's redirects
// (FollowRedirects): at start, whenever they change, and every interval
// for settle after a change, for records that other instances wrote at an
// old address before they had the new course.
func (p *Progress) KeepUpWithRedirects(ctx context.Context, lib *course.Library, every, settle time.Duration, log *slog.Logger) {
	var last string
	var changed time.Time
	job := func(ctx context.Context) error {
		pub := lib.Current()
		if pub == nil {
			return nil
		}
		keys := make([]string, 0, len(pub.Course.Redirects))
		for from, to := range pub.Course.Redirects {
			keys = append(keys, from+" "+to)
		}
		sort.Strings(keys)
		h := strings.Join(keys, "\n")
		now := time.Now()
		switch {
		case h != last:
			changed = now
		case now.Sub(changed) > settle:
			return nil
		}
		n, err := p.FollowRedirects(ctx, pub.Course.Redirects)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("progress moved to renamed addresses", "records", n)
		}
		last = h
		return nil
	}
	if err := job(ctx); err != nil && ctx.Err() == nil {
		log.Warn("moving progress to renamed addresses", "err", err)
	}
	poll.Every(ctx, every, log, "moving progress to renamed addresses", job)
}

// RecordRow is what the reports need of a progress record.
type RecordRow struct {
	UserID    string     `bson:"user_id"`
	Module    string     `bson:"module"`
	Section   string     `bson:"section"`
	Completed *time.Time `bson:"completed_at"`
	Seconds   int        `bson:"seconds"`
}

// RecordRows lists every progress record, lightly, for the reports.
func (p *Progress) RecordRows(ctx context.Context) ([]RecordRow, error) {
	var out []RecordRow
	err := p.EachRecordRow(ctx, func(r RecordRow) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// EachRecordRow gives every progress record, lightly, to f, one at a
// time (a rebuild of the reports' summaries reads them all without
// holding them all).
func (p *Progress) EachRecordRow(ctx context.Context, f func(RecordRow) error) error {
	cur, err := p.db.Collection(progressCollection).Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "user_id", Value: 1}, {Key: "module", Value: 1}, {Key: "section", Value: 1}, {Key: "completed_at", Value: 1}, {Key: "seconds", Value: 1}}))
	if err != nil {
		return fmt.Errorf("study: progress: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var r RecordRow
		if err := cur.Decode(&r); err != nil {
			return fmt.Errorf("study: progress: %w", err)
		}
		if err := f(r); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("study: progress: %w", err)
	}
	return nil
}

// RecordRowsOf lists one learner's progress records at the given
// sections ("module/section"), lightly and read now (not from the
// cache): by _id, one lookup a section, where the store's filters scan
// (FerretDB); else by user_id, keeping those sections'.
func (p *Progress) RecordRowsOf(ctx context.Context, userID string, sections []string) ([]RecordRow, error) {
	var out []RecordRow
	add := func(r *course.SectionProgress) {
		out = append(out, RecordRow{UserID: userID, Module: r.Module, Section: r.Section, Completed: r.CompletedAt, Seconds: r.Seconds})
	}
	if p.db.FiltersScan() {
		ids := make([]string, len(sections))
		for i, k := range sections {
			ids[i] = userID + "|" + k
		}
		var mu sync.Mutex
		err := findByIDs(ctx, p.db.Collection(progressCollection), ids, func(r *mongo.SingleResult) error {
			var x course.SectionProgress
			if err := r.Decode(&x); err != nil {
				return err
			}
			mu.Lock()
			add(&x)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("study: progress: %w", err)
		}
		return out, nil
	}
	want := make(map[string]bool, len(sections))
	for _, k := range sections {
		want[k] = true
	}
	cur, err := p.db.Collection(progressCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return nil, fmt.Errorf("study: progress: %w", err)
	}
	var list []*course.SectionProgress
	if err := cur.All(ctx, &list); err != nil {
		return nil, fmt.Errorf("study: progress: %w", err)
	}
	for _, x := range list {
		if want[x.Module+"/"+x.Section] {
			add(x)
		}
	}
	return out, nil
}
