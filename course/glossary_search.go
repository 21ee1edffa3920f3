package course

import (
	"sort"
	"strings"
	"unicode"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/finnish"
)

// Glossary search: case-insensitive, diacritic-aware (an exact match with
// ä and ö ranks above one without), prefix and typo tolerant, and
// Finnish-stemmed, so "työkyvyn tuen" finds työkyvyn tuki. Preferred terms
// rank first. The index is built once per published version.

// Hit is one search result.
type Hit struct {
	Concept *Concept `json:"concept"`
	Score   int      `json:"score"`
	Matched string   `json:"matched"` // the label that matched
}

// label kinds, by weight: what a match on it is worth.
const (
	wPreferred = 100
	wForm      = 80
	wSynonym   = 70
	wNotRec    = 50
	wEquiv     = 40
)

type label struct {
	concept *Concept
	text    string // as written
	norm    string // lowercase, diacritics kept
	fold    string // lowercase, ä→a, ö→o, å→a
	runes   []rune // fold as runes, for the typo distance
	stems   string // the words' stems, space-separated
	weight  int
}

// GlossaryIndex is the search index of a course's concepts.
type GlossaryIndex struct {
	labels []label
}

// stem is the Finnish Snowball stem of one lowercase word (each call has
// its own environment; the stemmer's tables are read-only).
func stem(word string) string {
	env := snowballstem.NewEnv(word)
	finnish.Stem(env)
	return env.Current()
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func fold(s string) string {
	return strings.NewReplacer("ä", "a", "ö", "o", "å", "a", "é", "e", "ü", "u").Replace(strings.ToLower(s))
}

func stems(s string) string {
	ws := words(s)
	for i, w := range ws {
		ws[i] = stem(w)
	}
	return strings.Join(ws, " ")
}

// NewGlossaryIndex indexes the concepts' terms, synonyms, inflected forms
// and Swedish and English equivalents.
func NewGlossaryIndex(concepts []*Concept) *GlossaryIndex {
	ix := &GlossaryIndex{}
	add := func(k *Concept, text string, w int) {
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		n := strings.Join(words(text), " ")
		f := fold(n)
		ix.labels = append(ix.labels, label{concept: k, text: text, norm: n, fold: f, runes: []rune(f), stems: stems(text), weight: w})
	}
	for _, k := range concepts {
		add(k, k.Term, wPreferred)
		for _, s := range k.Synonyms {
			add(k, s, wSynonym)
		}
		for _, s := range k.NotRecommended {
			add(k, s, wNotRec)
		}
		for _, s := range k.Forms {
			add(k, s, wForm)
		}
		add(k, k.SV, wEquiv)
		add(k, k.EN, wEquiv)
	}
	return ix
}

// Search finds concepts for q, best first, at most limit.
func (ix *GlossaryIndex) Search(q string, limit int) []Hit {
	qw := words(q)
	if len(qw) == 0 || len(q) > 200 {
		return nil
	}
	qn := strings.Join(qw, " ")
	qf := fold(qn)
	qs := stems(qn)
	qr := []rune(qf)
	var rows osaRows
	best := map[*Concept]Hit{}
	for i := range ix.labels {
		l := &ix.labels[i]
		score := 0
		switch {
		case l.norm == qn:
			score = 1000
		case l.fold == qf:
			score = 900 // the same but for ä, ö, å
		case strings.HasPrefix(l.norm, qn):
			score = 700
		case strings.HasPrefix(l.fold, qf):
			score = 650
		case qs != "" && l.stems == qs:
			score = 600 // an inflected form: "työkyvyn tuen" ~ "työkyvyn tuki"
		case qs != "" && strings.HasPrefix(l.stems, qs):
			score = 500
		case len(qf) >= 4 && strings.Contains(l.fold, qf):
			score = 350
		default:
			if d := rows.typoDistance(qr, l.runes); d >= 0 {
				score = 300 - 100*d
			}
		}
		if score <= 0 {
			continue
		}
		score += l.weight
		if h, ok := best[l.concept]; !ok || score > h.Score {
			best[l.concept] = Hit{Concept: l.concept, Score: score, Matched: l.text}
		}
	}
	out := make([]Hit, 0, len(best))
	for _, h := range best {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Concept.Term < out[j].Concept.Term
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// osaRows are the reusable rows of the distance computation.
type osaRows struct{ a, b, c []int }

// typoDistance is the edit distance (with transpositions) between q and
// the label, or between q and the label's beginning when the label is
// longer, if it is small enough for q's length: 1 from four letters, 2 from
// eight; -1 otherwise.
func (r *osaRows) typoDistance(qr, lr []rune) int {
	allowed := 0
	switch {
	case len(qr) >= 8:
		allowed = 2
	case len(qr) >= 4:
		allowed = 1
	default:
		return -1
	}
	if len(lr) < len(qr)-allowed {
		return -1
	}
	if len(lr) > len(qr)+allowed {
		lr = lr[:len(qr)+allowed] // a typo in the beginning of a longer label
	}
	// One table: its last row holds the distance from q to every
	// beginning of the label; the beginnings of about q's length count.
	last := r.osa(qr, lr, allowed)
	if last == nil {
		return -1
	}
	best := allowed + 1
	for n := max(len(qr)-allowed, 1); n < len(last); n++ {
		best = min(best, last[n])
	}
	if best > allowed {
		return -1
	}
	return best
}

// osa fills the optimal string alignment table of a against b and returns
// its last row (distances from a to each beginning of b), or nil as soon
// as every distance exceeds max.
func (r *osaRows) osa(a, b []rune, max int) []int {
	if cap(r.a) < len(b)+1 {
		r.a, r.b, r.c = make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	}
	prev2, prev, cur := r.a[:len(b)+1], r.b[:len(b)+1], r.c[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > max {
			return nil
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev
}
