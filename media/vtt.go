package media

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Cue is one caption: its time span, its speaker (a <v> voice span, when
// given) and its text without markup.
type Cue struct {
	Start float64 `bson:"start" json:"start"` // seconds
	End   float64 `bson:"end" json:"end"`
	Voice string  `bson:"voice,omitempty" json:"voice,omitempty"`
	Text  string  `bson:"text" json:"text"`
}

// LineError is a problem at a line of an uploaded text file.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// VTTErrors are all problems found in a WebVTT file.
type VTTErrors []*LineError

func (es VTTErrors) Error() string {
	parts := make([]string, 0, len(es))
	for _, e := range es {
		parts = append(parts, e.Error())
	}
	return "WebVTT: " + strings.Join(parts, "; ")
}

// MaxCaptionBytes bounds an uploaded captions file.
const MaxCaptionBytes = 2 << 20

var (
	timingRE    = regexp.MustCompile(`^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?$`)
	timestampRE = regexp.MustCompile(`^(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})$`)
	tagRE       = regexp.MustCompile(`<[^>]*>`)
	voiceRE     = regexp.MustCompile(`^<v(?:\.[^ \t>]*)?[ \t]+([^>]+)>`)
	settingRE   = regexp.MustCompile(`^(vertical|line|position|size|align|region):\S+$`)
)

// ParseVTT parses a WebVTT file and reports every problem with its line
// number. The cues come back in file order.
func ParseVTT(data []byte) ([]Cue, error) {
	var errs VTTErrors
	add := func(line int, format string, a ...any) {
		if len(errs) < 50 {
			errs = append(errs, &LineError{Line: line, Msg: fmt.Sprintf(format, a...)})
		}
	}
	if len(data) > MaxCaptionBytes {
		return nil, VTTErrors{{Line: 1, Msg: fmt.Sprintf("the file is larger than %d bytes", MaxCaptionBytes)}}
	}
	if !utf8.Valid(data) {
		return nil, VTTErrors{{Line: 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n")), Msg: "the file is not UTF-8 text"}}
	}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(text, "\n")
	if first := lines[0]; !strings.HasPrefix(first, "WEBVTT") || (len(first) > 6 && first[6] != ' ' && first[6] != '\t') {
		return nil, VTTErrors{{Line: 1, Msg: `a WebVTT file starts with the line "WEBVTT"`}}
	}
	i := 1
	for i < len(lines) && lines[i] != "" { // header lines
		if strings.Contains(lines[i], "-->") {
			add(i+1, "a blank line must separate the WEBVTT header from the first cue")
			break
		}
		i++
	}
	var cues []Cue
	for i < len(lines) {
		for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
			i++
		}
		if i >= len(lines) {
			break
		}
		start := i
		for i < len(lines) && lines[i] != "" {
			i++
		}
		block := lines[start:i]
		head := block[0]
		switch {
		case head == "NOTE" || strings.HasPrefix(head, "NOTE ") || strings.HasPrefix(head, "NOTE\t"):
			for j, l := range block {
				if strings.Contains(l, "-->") {
					add(start+j+1, `a NOTE must not contain "-->"`)
				}
			}
			continue
		case (head == "STYLE" || head == "REGION") && len(cues) == 0:
			continue
		}
		timing := 0
		if !strings.Contains(head, "-->") {
			timing = 1 // a cue identifier
			if len(block) < 2 || !strings.Contains(block[1], "-->") {
				add(start+1, `expected a cue timing line "00:00:01.000 --> 00:00:04.000" (or an identifier and then one)`)
				continue
			}
		}
		line := start + timing + 1
		m := timingRE.FindStringSubmatch(strings.TrimSpace(block[timing]))
		if m == nil {
			add(line, `the cue timing must look like "00:00:01.000 --> 00:00:04.000"`)
			continue
		}
		from, err1 := parseTimestamp(m[1])
		to, err2 := parseTimestamp(m[2])
		if err1 != nil {
			add(line, "start time %q: %v", m[1], err1)
		}
		if err2 != nil {
			add(line, "end time %q: %v", m[2], err2)
		}
		if err1 != nil || err2 != nil {
			continue
		}
		if to <= from {
			add(line, "the cue ends (%s) before or when it starts (%s)", m[2], m[1])
		}
		if n := len(cues); n > 0 && from < cues[n-1].Start {
			add(line, "cues must be in order of start time: this one starts before the previous one")
		}
		for _, s := range strings.Fields(m[3]) {
			if !settingRE.MatchString(s) {
				add(line, "unknown cue setting %q", s)
			}
		}
		payload := block[timing+1:]
		for j, l := range payload {
			if strings.Contains(l, "-->") {
				add(line+1+j, `cue text must not contain "-->"; is a blank line missing before the next cue?`)
			}
		}
		raw := strings.Join(payload, "\n")
		c := Cue{Start: from, End: to}
		if v := voiceRE.FindStringSubmatch(raw); v != nil {
			c.Voice = html.UnescapeString(strings.TrimSpace(v[1]))
		}
		c.Text = strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(raw, "")))
		if c.Text == "" {
			add(line, "the cue has no text")
		}
		cues = append(cues, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(cues) == 0 {
		return nil, VTTErrors{{Line: len(lines), Msg: "the file has no cues"}}
	}
	return cues, nil
}

func parseTimestamp(s string) (float64, error) {
	m := timestampRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("use hh:mm:ss.ttt or mm:ss.ttt")
	}
	h := 0
	if m[1] != "" {
		var err error
		if h, err = strconv.Atoi(m[1]); err != nil || h > 99999 {
			return 0, fmt.Errorf("the hours are out of range")
		}
	}
	mi, _ := strconv.Atoi(m[2])
	se, _ := strconv.Atoi(m[3])
	ms, _ := strconv.Atoi(m[4])
	if mi > 59 || se > 59 {
		return 0, fmt.Errorf("minutes and seconds go from 00 to 59")
	}
	return float64(h*3600+mi*60+se) + float64(ms)/1000, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// FormatTimestamp writes seconds as a WebVTT timestamp hh:mm:ss.ttt.
func FormatTimestamp(sec float64) string {
	ms := int64(sec*1000 + 0.5)
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// WriteVTT writes cues as a WebVTT file, voices as <v> spans.
func WriteVTT(cues []Cue) []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	for i, c := range cues {
		fmt.Fprintf(&b, "\n%d\n%s --> %s\n", i+1, FormatTimestamp(c.Start), FormatTimestamp(c.End))
		text := escapeCueText(c.Text)
		if c.Voice != "" {
			text = "<v " + escapeCueText(c.Voice) + ">" + text
		}
		b.WriteString(text + "\n")
	}
	return b.Bytes()
}

func escapeCueText(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	return strings.ReplaceAll(s, "-->", "--&gt;")
}

// Transcript is the cues as plain text, a paragraph per speaker turn.
func Transcript(title string, cues []Cue) string {
	var b strings.Builder
	b.WriteString(title + "\n\n")
	voice := "\x00"
	for _, c := range cues {
		if c.Voice != voice {
			if voice != "\x00" {
				b.WriteString("\n\n")
			}
			if c.Voice != "" {
				b.WriteString(c.Voice + ": ")
			}
			voice = c.Voice
		} else {
			b.WriteString(" ")
		}
		b.WriteString(strings.ReplaceAll(c.Text, "\n", " "))
	}
	b.WriteString("\n")
	return b.String()
}
