package study

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tyokyky/tyokyky/course"
)

func validPlayed(sec *course.Section, ev Event) bool {
	if ev.Duration <= 0 || len(ev.Ranges) > MaxRanges || ev.Position < 0 || ev.Position > ev.Duration+1 ||
		math.IsNaN(ev.Position) || math.IsInf(ev.Position, 0) {
		return false
	}
	found := false
	for _, id := range sec.Body.Media {
		found = found || id == ev.Media
	}
	if !found {
		return false
	}
	for _, r := range ev.Ranges {
		if math.IsNaN(r[0]) || math.IsNaN(r[1]) || r[0] < 0 || r[1] < r[0] || r[1] > ev.Duration+1 {
			return false
		}
	}
	return true
}

// recordPlayed merges a played event into the learner's record of the
// section: the position is replaced, the ranges are unioned, the share is
// computed from the catalog's duration (not the client's), and a section
// whose rule is "video" is completed once every required item is played
// to VideoDone. Writes of one record are serialized in this process; a
// concurrent write from another instance can at worst drop one event's
// new ranges, which the player sends again with its next event (it always
// sends all the ranges it has played).
func (p *Progress) recordPlayed(ctx context.Context, userID string, sec *course.Section, ev Event, update, set bson.D) (*course.SectionProgress, error) {
	if !validPlayed(sec, ev) {
		return nil, ErrBadPlayed
	}
	id := progressID(userID, sec.Module.Slug, sec.Slug)
	defer p.locks.Lock(id)()
	var cur course.SectionProgress
	err := p.db.Collection(progressCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("study: progress: %w", err)
	}
	mp := &course.MediaProgress{Position: math.Min(ev.Position, ev.Duration)}
	var ranges [][2]float64
	if old := cur.Media[ev.Media]; old != nil {
		for _, r := range old.Ranges {
			ranges = append(ranges, [2]float64{r.Start, r.End})
		}
	}
	for _, r := range ev.Ranges {
		ranges = append(ranges, [2]float64{r[0], math.Min(r[1], ev.Duration)})
	}
	merged := course.MergeRanges(ranges)
	if len(merged) > MaxRanges { // a pathological seeker: keep the longest
		sort.Slice(merged, func(i, j int) bool { return merged[i][1]-merged[i][0] > merged[j][1]-merged[j][0] })
		merged = course.MergeRanges(merged[:MaxRanges])
	}
	for _, r := range merged {
		mp.Ranges = append(mp.Ranges, course.Span{Start: r[0], End: r[1]})
	}
	mp.Watched = math.Min(1, math.Round(course.Covered(merged)/ev.Duration*1000)/1000)
	set = append(set, bson.E{Key: "media." + ev.Media, Value: mp})
	update = append(update, bson.E{Key: "$set", Value: set})
	if sec.Completion == course.CompleteOnVideo && !cur.Done() {
		done := len(ev.Required) > 0
		for _, req := range ev.Required {
			share := 0.0
			if req == ev.Media {
				share = mp.Watched
			} else if m := cur.Media[req]; m != nil {
				share = m.Watched
			}
			done = done && share >= VideoDone
		}
		if done {
			now := p.now().UTC().Truncate(time.Millisecond)
			update = append(update, bson.E{Key: "$min", Value: bson.D{{Key: "completed_at", Value: now}}})
		}
	}
	return p.upsert(ctx, userID, id, update)
}
