package media

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/poll"
)

const (
	itemsCollection   = "media"
	catalogCollection = "media_catalog"
	objectPrefix      = "media/"
	// partSize is the multipart part size of uploads: the one buffer an
	// upload holds in memory.
	partSize = 16 << 20
	// MaxPosterBytes and MaxSVGBytes bound images read whole.
	MaxPosterBytes = 5 << 20
	MaxSVGBytes    = 1 << 20
)

// Object is one object in the bucket.
type Object struct {
	Key         string `bson:"key" json:"-"`
	ContentType string `bson:"content_type" json:"content_type"`
	Size        int64  `bson:"size" json:"size"`
	SHA256      string `bson:"sha256" json:"sha256"`
}

// Caption is a captions track of a video or audio item.
type Caption struct {
	Lang   string `bson:"lang" json:"lang"`
	Object `bson:",inline"`
	Cues   []Cue `bson:"cues" json:"-"`
}

// Item is the metadata of a media file.
type Item struct {
	ID       string `bson:"_id" json:"id"`
	Title    string `bson:"title" json:"title"`
	Kind     string `bson:"kind" json:"kind"`
	Object   `bson:",inline"`
	Duration float64   `bson:"duration" json:"duration,omitempty"` // seconds; 0 when unknown
	Codecs   []string  `bson:"codecs,omitempty" json:"codecs,omitempty"`
	Width    int       `bson:"width,omitempty" json:"width,omitempty"`
	Height   int       `bson:"height,omitempty" json:"height,omitempty"`
	Poster   *Object   `bson:"poster,omitempty" json:"-"`
	Captions []Caption `bson:"captions" json:"-"`
	// Source identifies what a generated item was made from.
	Source   string    `bson:"source,omitempty" json:"-"`
	Uploader string    `bson:"uploader" json:"uploader,omitempty"`
	Created  time.Time `bson:"created" json:"created"`
	Updated  time.Time `bson:"updated" json:"updated"`
	Rev      int64     `bson:"rev" json:"-"`
}

// Caption returns the captions in lang, or nil.
func (it *Item) Caption(lang string) *Caption {
	for i := range it.Captions {
		if it.Captions[i].Lang == lang {
			return &it.Captions[i]
		}
	}
	return nil
}

// Playable is true for video and audio.
func (it *Item) Playable() bool { return it.Kind == KindVideo || it.Kind == KindAudio }

// Errors of the catalog; the API maps them to statuses.
var (
	ErrNotFound = fault.New(fault.NotFound, "media_not_found", "", "no such media item")
	ErrExists   = fault.New(fault.Conflict, "media_exists", "", "a media item with this id already exists")
	ErrConflict = fault.New(fault.Conflict, "media_changed", "", "the media item changed meanwhile; try again")
	// ErrTooLarge: over a size limit (With the limit, FormatSize).
	ErrTooLarge = fault.New(fault.TooLarge, "media_too_large", "file", "the file is larger than the limit of %s")
	// ErrInUse refuses deleting media the course uses (With the places).
	ErrInUse = fault.New(fault.Conflict, "media_in_use", "", "the media item is used in the course: %s")
	// Refusals of an upload for what it is.
	ErrTitleMissing = fault.New(fault.Invalid, "media_title_missing", "title", "a title is required")
	ErrTitleLong    = fault.New(fault.Invalid, "media_title_long", "title", "the title is longer than 200 characters")
	ErrBadID        = fault.New(fault.Invalid, "media_id_invalid", "id", "the id must be lowercase letters, digits and hyphens (at most 80), e.g. m1-johdanto")
	ErrEmpty        = fault.New(fault.Unsupported, "media_file_empty", "file", "the file is empty")
	ErrIsCaptions   = fault.New(fault.Unsupported, "media_is_captions", "file", "this is a WebVTT captions file: add it to a video or audio item as its captions")
	ErrWrongKind    = fault.New(fault.Unsupported, "media_wrong_kind", "file", "the file is %s (%s); expected %s")
	ErrUnsafeSVG    = fault.New(fault.Unsupported, "media_svg_unsafe", "file", "the SVG image is refused: %s")
	ErrUnreadable   = fault.New(fault.Unsupported, "media_unreadable", "file", "the file could not be read as %s")
	ErrNoStream     = fault.New(fault.Unsupported, "media_no_stream", "file", "the file has no video or audio stream")
	ErrNoAudio      = fault.New(fault.Unsupported, "media_no_audio", "file", "the file has no audio stream")
	ErrCaptionLang  = fault.New(fault.Invalid, "captions_language", "lang", "the language must be a two- or three-letter code such as fi, sv or en")
	ErrCaptionsFor  = fault.New(fault.Invalid, "captions_not_playable", "", "captions belong to video and audio, not to %s")
	ErrCaptions     = fault.New(fault.Invalid, "captions_invalid", "captions", "the captions are not valid WebVTT: %s")
	ErrPosterFor    = fault.New(fault.Invalid, "poster_not_playable", "", "posters belong to video and audio")
	ErrPosterFormat = fault.New(fault.Unsupported, "poster_format", "poster", "a poster must be a PNG, JPEG or WebP image")
)

// Snapshot is the whole catalog at one revision, shared read-only.
type Snapshot struct {
	Rev   int64
	Items map[string]*Item
}

// Options configure a Catalog.
type Options struct {
	MaxSize int64 // bytes; 0 means 2 GiB
	Logger  *slog.Logger
	// Probe reads duration and codecs; nil uses ffprobe when installed.
	Probe func(ctx context.Context, url string) (*ProbeResult, error)
}

// Catalog keeps media metadata in the document store and the files in the
// object store. Metadata is written only after its object is complete, so
// a failed upload leaves at most an object no record points to, which GC
// removes.
type Catalog struct {
	store   *ObjectStore
	items   *database.Collection
	catalog *database.Collection
	maxSize int64
	log     *slog.Logger
	probe   func(ctx context.Context, url string) (*ProbeResult, error)
	now     func() time.Time
	snap    atomic.Pointer[Snapshot]
}

// NewCatalog uses db for metadata and store for the files.
func NewCatalog(db *database.DB, store *ObjectStore, o Options) *Catalog {
	if o.MaxSize <= 0 {
		o.MaxSize = 2 << 30
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Probe == nil {
		o.Probe = FFProbe
	}
	l := &Catalog{store: store, maxSize: o.MaxSize, log: o.Logger, probe: o.Probe, now: time.Now}
	if db != nil { // nil: a catalog for listing routes only
		l.items, l.catalog = db.Collection(itemsCollection), db.Collection(catalogCollection)
	}
	return l
}

// ObjectStore is the object store behind the catalog.
func (l *Catalog) ObjectStore() *ObjectStore { return l.store }

// MaxSize is the upload limit in bytes.
func (l *Catalog) MaxSize() int64 { return l.maxSize }

var idRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// ValidID reports whether id can name a media item.
func ValidID(id string) bool { return len(id) <= 80 && idRE.MatchString(id) }

// Upload is one file to store.
type Upload struct {
	ID       string // empty: generated
	Title    string
	Uploader string
	Body     io.Reader
	// Replace lets an upload take an existing id's place (the generator's
	// re-runs); the old objects are removed afterwards.
	Replace bool
	Source  string
	// Kinds limits what the upload may be (e.g. only video); empty: any
	// of video, audio and image.
	Kinds []string
}

type countingHash struct {
	h   hash.Hash
	n   int64
	max int64
	r   io.Reader
	// readErr is the upload's own failure (the client went away).
	readErr error
}

func (c *countingHash) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		c.readErr = err
	}
	c.n += int64(n)
	if c.n > c.max {
		return 0, ErrTooLarge.With(FormatSize(c.max))
	}
	c.h.Write(p[:n])
	return n, err
}

// Put stores an upload: content sniffed, hashed while streaming, probed,
// then recorded.
func (l *Catalog) Put(ctx context.Context, u Upload) (*Item, error) {
	title := strings.TrimSpace(u.Title)
	switch {
	case title == "":
		return nil, ErrTitleMissing
	case utf8.RuneCountInString(title) > 200:
		return nil, ErrTitleLong
	}
	id := u.ID
	if id == "" {
		id = "m-" + randomKey(8)
	} else if !ValidID(id) {
		return nil, ErrBadID
	}
	var old *Item
	if existing, err := l.Get(ctx, id); err == nil {
		if !u.Replace {
			return nil, ErrExists
		}
		old = existing
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}

	br := bufio.NewReaderSize(u.Body, SniffLen)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("media: reading the upload: %w", err)
	}
	if len(head) == 0 {
		return nil, ErrEmpty
	}
	f, err := Sniff(head)
	if err != nil {
		return nil, err
	}
	if f.Kind == KindCaptions {
		return nil, ErrIsCaptions
	}
	allowed := u.Kinds
	if len(allowed) == 0 {
		allowed = []string{KindVideo, KindAudio, KindImage}
	}
	if !slices.Contains(allowed, f.Kind) {
		return nil, ErrWrongKind.With(f.Kind, f.ContentType, strings.Join(allowed, " | "))
	}
	var body io.Reader = br
	if f.ContentType == "image/svg+xml" {
		doc, err := io.ReadAll(io.LimitReader(br, MaxSVGBytes+1))
		if err != nil {
			return nil, fmt.Errorf("media: reading the upload: %w", err)
		}
		if len(doc) > MaxSVGBytes {
			return nil, ErrTooLarge.With(FormatSize(MaxSVGBytes))
		}
		if err := CheckSVG(doc); err != nil {
			return nil, ErrUnsafeSVG.With(err.Error())
		}
		body = bytes.NewReader(doc)
	}

	key := objectPrefix + randomKey(16) + f.Ext
	obj, err := l.putObject(ctx, key, f.ContentType, body)
	if err != nil {
		return nil, err
	}
	now := l.now().UTC().Truncate(time.Millisecond)
	it := &Item{ID: id, Title: title, Kind: f.Kind, Object: obj, Captions: []Caption{}, Source: u.Source,
		Uploader: u.Uploader, Created: now, Updated: now, Rev: 1}
	if it.Playable() {
		if err := l.probeItem(ctx, it); err != nil {
			l.removeObjects(ctx, key)
			return nil, err
		}
	}
	if old == nil {
		if _, err := l.items.InsertOne(ctx, it); err != nil {
			l.removeObjects(ctx, key)
			if mongo.IsDuplicateKeyError(err) {
				return nil, ErrExists
			}
			return nil, fmt.Errorf("media: record: %w", err)
		}
	} else {
		// Captions and the poster stay unless the source changed them.
		it.Created, it.Captions, it.Poster, it.Rev = old.Created, old.Captions, old.Poster, old.Rev+1
		res, err := l.items.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "rev", Value: old.Rev}}, it)
		if err == nil && res.MatchedCount == 0 {
			err = ErrConflict
		}
		if err != nil {
			l.removeObjects(ctx, key)
			return nil, err
		}
		l.removeObjects(ctx, old.Key)
	}
	l.changed(ctx)
	return it, nil
}

// putObject streams r into the bucket, hashing and counting as it goes;
// nothing of it stays in memory but one part.
func (l *Catalog) putObject(ctx context.Context, key, contentType string, r io.Reader) (Object, error) {
	ch := &countingHash{h: sha256.New(), max: l.maxSize, r: r}
	_, err := l.store.client.PutObject(ctx, l.store.bucket, key, ch, -1, minio.PutObjectOptions{
		ContentType: contentType, PartSize: partSize, DisableContentSha256: true,
	})
	if err != nil {
		l.removeObjects(context.WithoutCancel(ctx), key)
		if tl, ok := fault.As(err); ok && errors.Is(tl, ErrTooLarge) {
			return Object{}, tl
		}
		if ctx.Err() != nil {
			return Object{}, ctx.Err()
		}
		if ch.readErr != nil {
			return Object{}, fmt.Errorf("%w: %v", ErrUploadCut, ch.readErr)
		}
		l.store.onError("put")
		if c := classify(err); c != err {
			return Object{}, c
		}
		return Object{}, fmt.Errorf("media: storing the file: %w", err)
	}
	return Object{Key: key, ContentType: contentType, Size: ch.n, SHA256: hex.EncodeToString(ch.h.Sum(nil))}, nil
}

func (l *Catalog) probeItem(ctx context.Context, it *Item) error {
	u, err := l.store.client.PresignedGetObject(ctx, l.store.bucket, it.Key, 10*time.Minute, nil)
	if err != nil {
		l.store.onError("presign")
		return fmt.Errorf("media: %w", err)
	}
	p, err := l.probe(ctx, u.String())
	if errors.Is(err, ErrNoProbe) {
		return nil // duration unknown; players still work
	}
	if err != nil {
		l.log.Warn("media: probing an upload failed", "kind", it.Kind, "err", err)
		return ErrUnreadable.With(it.Kind)
	}
	if it.Kind == KindVideo && !p.HasVideo {
		if !p.HasAudio {
			return ErrNoStream
		}
		it.Kind = KindAudio // an MP4 or WebM with sound only
	}
	if it.Kind == KindAudio && !p.HasAudio {
		return ErrNoAudio
	}
	it.Duration, it.Codecs, it.Width, it.Height = p.Duration, p.Codecs, p.Width, p.Height
	return nil
}

// Get is one item's metadata.
func (l *Catalog) Get(ctx context.Context, id string) (*Item, error) {
	var it Item
	err := l.items.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&it)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &it, nil
}

// List is every item, by title.
func (l *Catalog) List(ctx context.Context) ([]*Item, error) {
	cur, err := l.items.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	var list []*Item
	if err := cur.All(ctx, &list); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Title != list[j].Title {
			return list[i].Title < list[j].Title
		}
		return list[i].ID < list[j].ID
	})
	return list, nil
}

// update applies change to an item and stores it if its revision is still
// the one read; a concurrent change is retried.
func (l *Catalog) update(ctx context.Context, id string, change func(it *Item) error) (*Item, error) {
	for attempt := 0; attempt < 5; attempt++ {
		it, err := l.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		rev := it.Rev
		if err := change(it); err != nil {
			return nil, err
		}
		it.Rev, it.Updated = rev+1, l.now().UTC().Truncate(time.Millisecond)
		res, err := l.items.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "rev", Value: rev}}, it)
		if err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
		if res.MatchedCount == 1 {
			l.changed(ctx)
			return it, nil
		}
	}
	return nil, ErrConflict
}

var langRE = regexp.MustCompile(`^[a-z]{2,3}$`)

// SetCaptions parses a WebVTT file and makes it the item's captions in
// lang, replacing any earlier ones.
func (l *Catalog) SetCaptions(ctx context.Context, id, lang string, data []byte) (*Item, error) {
	if !langRE.MatchString(lang) {
		return nil, ErrCaptionLang
	}
	it, err := l.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !it.Playable() {
		return nil, ErrCaptionsFor.With(it.Kind)
	}
	cues, err := ParseVTT(data)
	if err != nil {
		return nil, ErrCaptions.WithCause(err, err.Error())
	}
	if it.Duration > 0 && cues[len(cues)-1].Start > it.Duration+1 {
		late := VTTErrors{{Line: 1, Msg: fmt.Sprintf("the last cue starts at %s, after the end of the %s (%s)",
			FormatTimestamp(cues[len(cues)-1].Start), it.Kind, FormatTimestamp(it.Duration))}}
		return nil, ErrCaptions.WithCause(late, late.Error())
	}
	key := objectPrefix + randomKey(16) + ".vtt"
	obj, err := l.putObject(ctx, key, "text/vtt; charset=utf-8", bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return l.attach(ctx, id, key, func(it *Item) (replaced string) {
		c := Caption{Lang: lang, Object: obj, Cues: cues}
		if old := it.Caption(lang); old != nil {
			replaced, *old = old.Key, c
			return replaced
		}
		it.Captions = append(it.Captions, c)
		sort.SliceStable(it.Captions, func(i, j int) bool { return langOrder(it.Captions[i].Lang) < langOrder(it.Captions[j].Lang) })
		return ""
	})
}

// attach records a stored object (key) on an item with set, which returns
// the key of an object it replaced. The replaced object is removed once
// the record no longer points to it; if recording fails, the new object is
// removed instead.
func (l *Catalog) attach(ctx context.Context, id, key string, set func(it *Item) (replaced string)) (*Item, error) {
	var replaced string
	it, err := l.update(ctx, id, func(it *Item) error {
		replaced = set(it)
		return nil
	})
	if err != nil {
		l.removeObjects(ctx, key)
		return nil, err
	}
	l.removeObjects(ctx, replaced)
	return it, nil
}

// langOrder puts Finnish first, then Swedish and English.
func langOrder(lang string) string {
	switch lang {
	case "fi":
		return "0"
	case "sv":
		return "1"
	case "en":
		return "2"
	}
	return "3" + lang
}

// SetPoster stores a PNG, JPEG or WebP image as the item's poster.
func (l *Catalog) SetPoster(ctx context.Context, id string, r io.Reader) (*Item, error) {
	it, err := l.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if it.Kind != KindVideo && it.Kind != KindAudio {
		return nil, ErrPosterFor
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxPosterBytes+1))
	if err != nil {
		return nil, fmt.Errorf("media: reading the poster: %w", err)
	}
	if len(data) > MaxPosterBytes {
		return nil, ErrTooLarge.With(FormatSize(MaxPosterBytes))
	}
	f, err := Sniff(data)
	if err != nil || f.Kind != KindImage || f.ContentType == "image/svg+xml" {
		return nil, ErrPosterFormat
	}
	key := objectPrefix + randomKey(16) + f.Ext
	obj, err := l.putObject(ctx, key, f.ContentType, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return l.attach(ctx, id, key, func(it *Item) (replaced string) {
		if it.Poster != nil {
			replaced = it.Poster.Key
		}
		it.Poster = &obj
		return replaced
	})
}

// Delete removes an item and its files, unless places (where the course
// uses it) is not empty.
func (l *Catalog) Delete(ctx context.Context, id string, places []string) error {
	if len(places) > 0 {
		return ErrInUse.With(strings.Join(places, ", "))
	}
	it, err := l.Get(ctx, id)
	if err != nil {
		return err
	}
	res, err := l.items.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	if res.DeletedCount == 0 {
		return ErrNotFound
	}
	l.changed(ctx)
	l.removeObjects(ctx, it.keys()...)
	return nil
}

func (it *Item) keys() []string {
	keys := []string{it.Key}
	if it.Poster != nil {
		keys = append(keys, it.Poster.Key)
	}
	for _, c := range it.Captions {
		keys = append(keys, c.Key)
	}
	return keys
}

// removeObjects deletes objects best-effort: what remains is garbage GC
// collects.
func (l *Catalog) removeObjects(ctx context.Context, keys ...string) {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := l.store.client.RemoveObject(ctx, l.store.bucket, k, minio.RemoveObjectOptions{}); err != nil {
			l.store.onError("remove")
			l.log.Warn("media: removing an object failed; media gc will retry", "key", k, "err", err)
		}
	}
}

// GC removes objects under media/ that no item points to and that are
// older than grace (an upload in progress has no record yet). It returns
// the keys removed.
func (l *Catalog) GC(ctx context.Context, grace time.Duration) ([]string, error) {
	items, err := l.List(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, it := range items {
		for _, k := range it.keys() {
			used[k] = true
		}
	}
	cutoff := l.now().Add(-grace)
	var removed []string
	for o := range l.store.client.ListObjectsIter(ctx, l.store.bucket, minio.ListObjectsOptions{Prefix: objectPrefix, Recursive: true}) {
		if o.Err != nil {
			l.store.onError("list")
			return removed, fmt.Errorf("media: listing objects: %w", o.Err)
		}
		if used[o.Key] || o.LastModified.After(cutoff) {
			continue
		}
		if err := l.store.client.RemoveObject(ctx, l.store.bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			l.store.onError("remove")
			return removed, fmt.Errorf("media: removing %s: %w", o.Key, err)
		}
		removed = append(removed, o.Key)
	}
	return removed, nil
}

// Open reads bytes start..end (inclusive) of an object; end < 0 reads to
// the end. Nothing is buffered: the caller streams the reader.
func (l *Catalog) Open(ctx context.Context, key string, start, end int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if start > 0 || end >= 0 {
		var err error
		if end >= 0 {
			err = opts.SetRange(start, end)
		} else {
			err = opts.SetRange(start, 0)
		}
		if err != nil {
			return nil, err
		}
	}
	core := minio.Core{Client: l.store.client}
	body, _, _, err := core.GetObject(ctx, l.store.bucket, key, opts)
	if err != nil {
		l.store.onError("get")
		if c := classify(err); c != err {
			return nil, c
		}
		return nil, fmt.Errorf("media: %w", err)
	}
	return body, nil
}

// PresignedURL is a short-lived address of an object on the public store
// address, so browsers fetch (and seek in) it directly.
func (l *Catalog) PresignedURL(ctx context.Context, obj Object, ttl time.Duration, filename string) (string, error) {
	params := url.Values{}
	params.Set("response-content-type", obj.ContentType)
	if filename != "" {
		params.Set("response-content-disposition", `inline; filename="`+filename+`"`)
	}
	u, err := l.store.presigner.PresignedGetObject(ctx, l.store.bucket, obj.Key, ttl, params)
	if err != nil {
		l.store.onError("presign")
		return "", fmt.Errorf("media: %w", err)
	}
	return u.String(), nil
}

// changed records a change of the catalog, for every instance's snapshot.
func (l *Catalog) changed(ctx context.Context) {
	if _, err := l.catalog.UpdateOne(ctx, bson.D{{Key: "_id", Value: "rev"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "rev", Value: int64(1)}}}},
		options.UpdateOne().SetUpsert(true)); err != nil && !mongo.IsDuplicateKeyError(err) {
		l.log.Warn("media: catalog revision", "err", err)
	}
	if err := l.Refresh(ctx); err != nil {
		l.log.Warn("media: catalog refresh", "err", err)
	}
}

func (l *Catalog) catalogRev(ctx context.Context) (int64, error) {
	var doc struct {
		Rev int64 `bson:"rev"`
	}
	err := l.catalog.FindOne(ctx, bson.D{{Key: "_id", Value: "rev"}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return doc.Rev, err
}

// Refresh reloads the snapshot when the catalog changed.
func (l *Catalog) Refresh(ctx context.Context) error {
	rev, err := l.catalogRev(ctx)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	if cur := l.snap.Load(); cur != nil && cur.Rev == rev {
		return nil
	}
	list, err := l.List(ctx)
	if err != nil {
		return err
	}
	s := &Snapshot{Rev: rev, Items: make(map[string]*Item, len(list))}
	for _, it := range list {
		s.Items[it.ID] = it
	}
	for {
		cur := l.snap.Load()
		if cur != nil && cur.Rev >= rev {
			return nil
		}
		if l.snap.CompareAndSwap(cur, s) {
			return nil
		}
	}
}

// Snapshot is the catalog as last loaded (empty before the first load).
func (l *Catalog) Snapshot() *Snapshot {
	if s := l.snap.Load(); s != nil {
		return s
	}
	return &Snapshot{Rev: -1, Items: map[string]*Item{}}
}

// Follow refreshes the snapshot every interval until ctx ends, so changes
// made by other instances show up.
func (l *Catalog) Follow(ctx context.Context, interval time.Duration) {
	poll.Every(ctx, interval, l.log, "media: catalog refresh failed", l.Refresh)
}

func randomKey(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// FormatSize writes a byte count for people: 2 GiB, 500 MiB, 12 KiB.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
