package exam

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// GIFT is Moodle's plain-text question format. ImportGIFT turns the kinds
// the exam has – multiple choice with one right answer, multiple answers
// with weights, true/false and matching – into items of the bank format,
// and reports everything else (short answer, numerical, essay,
// missing-word questions, descriptions) with its line number.

// GIFTProblem is a question or construct that was not imported.
type GIFTProblem struct {
	Line int
	Msg  string
}

func (p GIFTProblem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Msg) }

// GIFTItem is an imported item in the bank's YAML form.
type GIFTItem struct {
	ID            string       `yaml:"id"`
	Type          string       `yaml:"type"`
	Stem          string       `yaml:"stem"`
	Options       []GIFTOption `yaml:"options,omitempty"`
	Answer        *bool        `yaml:"answer,omitempty"`
	FeedbackTrue  string       `yaml:"feedback_true,omitempty"`
	FeedbackFalse string       `yaml:"feedback_false,omitempty"`
	Pairs         []GIFTPair   `yaml:"pairs,omitempty"`
	Feedback      string       `yaml:"feedback,omitempty"`
}

// GIFTOption is an option of an imported choice item.
type GIFTOption struct {
	Text     string `yaml:"text"`
	Correct  bool   `yaml:"correct,omitempty"`
	Feedback string `yaml:"feedback,omitempty"`
}

// GIFTPair is a pair of an imported matching item.
type GIFTPair struct {
	Left  string `yaml:"left"`
	Right string `yaml:"right"`
}

type giftQuestion struct {
	line int    // where the question starts
	text string // with its answer block
}

var (
	giftTitleRE  = regexp.MustCompile(`^::((?:[^:\\]|\\.|:[^:])*)::`)
	giftFormatRE = regexp.MustCompile(`^\[(markdown|plain|moodle|html)\]`)
	giftWeightRE = regexp.MustCompile(`^%(-?\d+(?:\.\d+)?)%`)
	slugRE       = regexp.MustCompile(`[^a-z0-9]+`)
)

// ImportGIFT reads GIFT text. prefix starts every generated item id.
func ImportGIFT(src, prefix string) ([]GIFTItem, []GIFTProblem) {
	var items []GIFTItem
	var problems []GIFTProblem
	seen := map[string]bool{}
	for n, q := range splitGIFT(src) {
		it, err := parseGIFTQuestion(q.text)
		if err != "" {
			problems = append(problems, GIFTProblem{Line: q.line, Msg: err})
			continue
		}
		base := it.ID
		if base == "" {
			base = strconv.Itoa(n + 1)
		}
		id := prefix + base
		for i := 2; seen[id]; i++ {
			id = prefix + base + "-" + strconv.Itoa(i)
		}
		seen[id] = true
		it.ID = id
		items = append(items, it)
	}
	return items, problems
}

// splitGIFT splits the source into questions: blank lines separate them;
// comment lines (//) and $CATEGORY lines are dropped.
func splitGIFT(src string) []giftQuestion {
	var out []giftQuestion
	var cur []string
	start := 0
	flush := func() {
		text := strings.TrimSpace(strings.Join(cur, "\n"))
		if text != "" {
			out = append(out, giftQuestion{line: start, text: text})
		}
		cur = nil
	}
	for i, line := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "//"), strings.HasPrefix(trimmed, "$CATEGORY:"):
			continue
		case trimmed == "":
			// A blank line inside an open answer block does not end it.
			if strings.Count(strings.Join(cur, "\n"), "{")-strings.Count(strings.Join(cur, "\n"), "\\{") > strings.Count(strings.Join(cur, "\n"), "}")-strings.Count(strings.Join(cur, "\n"), "\\}") {
				cur = append(cur, line)
				continue
			}
			flush()
			continue
		}
		if len(cur) == 0 {
			start = i + 1
		}
		cur = append(cur, line)
	}
	flush()
	return out
}

// unescape turns GIFT's \~ \= \# \{ \} \: \\ and \n into text.
func unescape(s string) string {
	r := strings.NewReplacer(`\~`, "~", `\=`, "=", `\#`, "#", `\{`, "{", `\}`, "}", `\:`, ":", `\\`, `\`, `\n`, "\n")
	return strings.TrimSpace(r.Replace(s))
}

// findUnescaped finds the first of chars not preceded by a backslash.
func findUnescaped(s string, chars string, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if strings.IndexByte(chars, s[i]) >= 0 {
			return i
		}
	}
	return -1
}

func parseGIFTQuestion(q string) (GIFTItem, string) {
	var it GIFTItem
	if m := giftTitleRE.FindStringSubmatch(q); m != nil {
		it.ID = strings.Trim(slugRE.ReplaceAllString(strings.ToLower(foldFinnish(unescape(m[1]))), "-"), "-")
		q = strings.TrimSpace(q[len(m[0]):])
	}
	if m := giftFormatRE.FindStringSubmatch(q); m != nil {
		if m[1] == "html" {
			return it, "HTML question text ([html]) is not imported: the bank's stems are Markdown"
		}
		q = strings.TrimSpace(q[len(m[0]):])
	}
	open := findUnescaped(q, "{", 0)
	if open < 0 {
		return it, "a description without an answer block is not a question"
	}
	closeAt := findUnescaped(q, "}", open+1)
	if closeAt < 0 {
		return it, "the answer block { … } is not closed"
	}
	if rest := strings.TrimSpace(q[closeAt+1:]); rest != "" {
		return it, "missing-word questions (text after the answer block) are not supported"
	}
	it.Stem = unescape(q[:open])
	if it.Stem == "" {
		return it, "the question has no text"
	}
	block := strings.TrimSpace(q[open+1 : closeAt])
	// General feedback: #### at the end of the block.
	if i := strings.Index(block, "####"); i >= 0 {
		it.Feedback = unescape(block[i+4:])
		block = strings.TrimSpace(block[:i])
	}
	switch {
	case block == "":
		return it, "essay questions ({}) are not supported"
	case strings.HasPrefix(block, "#"):
		return it, "numerical questions ({#…}) are not supported"
	}
	if tf, fb, ok := giftTrueFalse(block); ok {
		it.Type, it.Answer = "truefalse", &tf
		// GIFT: the first feedback is shown for a wrong answer, the second
		// for the right one.
		wrong, right := "", ""
		if len(fb) > 0 {
			wrong = fb[0]
		}
		if len(fb) > 1 {
			right = fb[1]
		}
		if tf {
			it.FeedbackTrue, it.FeedbackFalse = right, wrong
		} else {
			it.FeedbackTrue, it.FeedbackFalse = wrong, right
		}
		return it, ""
	}
	answers := splitAnswers(block)
	if len(answers) == 0 {
		return it, "the answer block has no answers"
	}
	matching := strings.Contains(block, "->")
	if matching {
		for _, a := range answers {
			if a.mark != '=' {
				return it, "a matching question's answers all start with ="
			}
			l, r, ok := strings.Cut(a.text, "->")
			if !ok {
				return it, "every answer of a matching question is =left -> right"
			}
			it.Pairs = append(it.Pairs, GIFTPair{Left: unescape(l), Right: unescape(r)})
		}
		it.Type = "matching"
		if len(it.Pairs) < 2 {
			return it, "a matching question needs at least two pairs"
		}
		return it, ""
	}
	weighted, rights := false, 0
	for _, a := range answers {
		if a.weight != nil {
			weighted = true
		}
		if a.mark == '=' {
			rights++
		}
	}
	for _, a := range answers {
		o := GIFTOption{Text: unescape(a.text), Feedback: unescape(a.feedback)}
		switch {
		case a.weight != nil:
			o.Correct = *a.weight > 0
		default:
			o.Correct = a.mark == '='
		}
		it.Options = append(it.Options, o)
	}
	switch {
	case weighted:
		it.Type = "multiple"
		correct := 0
		for _, o := range it.Options {
			if o.Correct {
				correct++
			}
		}
		if correct == 0 {
			return it, "no answer has a positive weight"
		}
		if correct == 1 && len(it.Options) > 1 {
			it.Type = "single"
		}
	case rights == len(answers):
		return it, "short-answer questions (only = answers) are not supported"
	case rights == 1:
		it.Type = "single"
	default:
		return it, "a multiple-choice question needs exactly one = answer, or weights (~%50%)"
	}
	if len(it.Options) < 2 {
		return it, "a choice question needs at least two answers"
	}
	return it, ""
}

func giftTrueFalse(block string) (bool, []string, bool) {
	parts := splitUnescaped(block, '#')
	head := strings.ToUpper(strings.TrimSpace(parts[0]))
	var v bool
	switch head {
	case "T", "TRUE":
		v = true
	case "F", "FALSE":
		v = false
	default:
		return false, nil, false
	}
	var fb []string
	for _, p := range parts[1:] {
		fb = append(fb, unescape(p))
	}
	return v, fb, true
}

func splitUnescaped(s string, sep byte) []string {
	var out []string
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			out = append(out, s[last:i])
			last = i + 1
		}
	}
	return append(out, s[last:])
}

type giftAnswer struct {
	mark     byte // '=' or '~'
	weight   *float64
	text     string
	feedback string
}

func splitAnswers(block string) []giftAnswer {
	var out []giftAnswer
	i := findUnescaped(block, "=~", 0)
	for i >= 0 {
		next := findUnescaped(block, "=~", i+1)
		end := len(block)
		if next >= 0 {
			end = next
		}
		a := giftAnswer{mark: block[i]}
		body := block[i+1 : end]
		if m := giftWeightRE.FindStringSubmatch(body); m != nil {
			w, _ := strconv.ParseFloat(m[1], 64)
			a.weight = &w
			body = body[len(m[0]):]
		}
		parts := splitUnescaped(body, '#')
		a.text = strings.TrimSpace(parts[0])
		if len(parts) > 1 {
			a.feedback = strings.Join(parts[1:], "#")
		}
		out = append(out, a)
		i = next
	}
	return out
}

func foldFinnish(s string) string {
	return strings.NewReplacer("ä", "a", "ö", "o", "å", "a", "Ä", "a", "Ö", "o", "Å", "a").Replace(s)
}

// GIFTYAML writes imported items as a bank file for module.
func GIFTYAML(module string, items []GIFTItem) ([]byte, error) {
	doc := struct {
		Module string     `yaml:"module"`
		Items  []GIFTItem `yaml:"items"`
	}{module, items}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
