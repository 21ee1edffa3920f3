package course

import (
	"math"
	"sort"
	"strings"
	"time"
)

// A learner's record of the course: what they have opened, read,
// played and completed, and the summaries computed from it. The records
// are kept by package study; here is only the model and its rules.

// SectionProgress is one learner's record of one section.
type SectionProgress struct {
	ID          string     `bson:"_id" json:"-"`
	UserID      string     `bson:"user_id" json:"-"`
	Module      string     `bson:"module" json:"module"`
	Section     string     `bson:"section" json:"section"`
	FirstOpened time.Time  `bson:"first_opened" json:"first_opened"`
	LastOpened  time.Time  `bson:"last_opened" json:"last_opened"`
	CompletedAt *time.Time `bson:"completed_at,omitempty" json:"completed_at,omitempty"`
	Seconds     int        `bson:"seconds" json:"seconds"`
	Scroll      float64    `bson:"scroll" json:"scroll"`
	// Media is what was played of the section's videos and podcasts.
	Media map[string]*MediaProgress `bson:"media,omitempty" json:"media,omitempty"`
	// SelfCheckDone is when the learner first answered every item of the
	// section's self-check right.
	SelfCheckDone *time.Time `bson:"self_check_done,omitempty" json:"self_check_done,omitempty"`
}

// MediaProgress is where a learner stopped in a video or podcast and which
// parts they have played.
type MediaProgress struct {
	Position float64 `bson:"position" json:"position"`
	Ranges   []Span  `bson:"ranges" json:"ranges"`
	Watched  float64 `bson:"watched" json:"watched"` // share of the duration, 0..1
}

// Span is a played time range in seconds (stored as a document: FerretDB
// v1 has no nested arrays).
type Span struct {
	Start float64 `bson:"s" json:"start"`
	End   float64 `bson:"e" json:"end"`
}

// Done reports whether the section is completed.
func (p *SectionProgress) Done() bool { return p != nil && p.CompletedAt != nil }

// Last is the section the learner opened most recently, if any.
func Last(all map[string]*SectionProgress) *SectionProgress {
	var last *SectionProgress
	for _, p := range all {
		if last == nil || p.LastOpened.After(last.LastOpened) {
			last = p
		}
	}
	return last
}

// TaskKey names a learning task across the course: module.section.task.
func TaskKey(sec *Section, taskID string) string {
	return sec.Module.Slug + "." + sec.Slug + "." + taskID
}

// FindTask resolves a task key against the published course.
func (c *Course) FindTask(key string) (*Section, *Task, bool) {
	parts := strings.SplitN(key, ".", 3)
	if len(parts) != 3 {
		return nil, nil, false
	}
	m, ok := c.Module(parts[0])
	if !ok {
		return nil, nil, false
	}
	s, ok := m.Section(parts[1])
	if !ok {
		return nil, nil, false
	}
	for i := range s.Body.Tasks {
		if s.Body.Tasks[i].ID == parts[2] && s.Body.Tasks[i].Answer {
			return s, &s.Body.Tasks[i], true
		}
	}
	return nil, nil, false
}

// ModuleProgress summarises a learner's progress in one module.
type ModuleProgress struct {
	Module    *Module
	Done      int
	Total     int
	Percent   int
	Seconds   int
	Completed bool
}

// Summarise computes per-module and whole-course progress.
func (c *Course) Summarise(all map[string]*SectionProgress) (mods []ModuleProgress, percent int) {
	done, total := 0, 0
	for _, m := range c.Modules {
		mp := ModuleProgress{Module: m, Total: len(m.Sections)}
		for _, s := range m.Sections {
			if p := all[m.Slug+"/"+s.Slug]; p != nil {
				mp.Seconds += p.Seconds
				if p.Done() {
					mp.Done++
				}
			}
		}
		if mp.Total > 0 {
			mp.Percent = mp.Done * 100 / mp.Total
		}
		mp.Completed = mp.Total > 0 && mp.Done == mp.Total
		done += mp.Done
		total += mp.Total
		mods = append(mods, mp)
	}
	if total > 0 {
		percent = done * 100 / total
	}
	return mods, percent
}

// MergeRanges unions time ranges: sorted, overlapping and touching ranges
// joined (gaps under a quarter second count as touching, the granularity
// of a player's timeupdate events).
func MergeRanges(rs [][2]float64) [][2]float64 {
	list := make([][2]float64, 0, len(rs))
	for _, r := range rs {
		if r[1] > r[0] {
			list = append(list, r)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i][0] < list[j][0] })
	out := list[:0]
	for _, r := range list {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+0.25 {
			out[n-1][1] = math.Max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// Covered is the total length of merged ranges.
func Covered(rs [][2]float64) float64 {
	total := 0.0
	for _, r := range rs {
		total += r[1] - r[0]
	}
	return total
}

// RecordKeys lists the records a learner can have in the course: its
// sections ("module/section") and its tasks (TaskKey), modules still being
// written included.
func (c *Course) RecordKeys() (sections, tasks []string) {
	for _, m := range append(append([]*Module(nil), c.Modules...), c.Hidden...) {
		for _, s := range m.Sections {
			sections = append(sections, m.Slug+"/"+s.Slug)
			if s.Body == nil {
				continue
			}
			for _, t := range s.Body.Tasks {
				tasks = append(tasks, TaskKey(s, t.ID))
			}
		}
	}
	return sections, tasks
}
