package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The course's sample media are made from their scripts: Finnish speech
// from espeak-ng, slides drawn by ffmpeg from the same text, and captions
// from the same sentences with their real timings.

// generatorVersion changes when the output of Generate would change for
// the same script, so stored media are made again.
const generatorVersion = "gen-2"

// Script is a video or podcast script in the course's transcript form:
// whole-line italic paragraphs (*…*) describe the picture, and
// "**Speaker:** text" paragraphs are spoken.
type Script struct {
	ID    string
	Title string
	Kind  string // video or audio
	Text  string
	// Footer is a line shown at the foot of every slide (the course name).
	Footer string
}

// Source identifies the script and generator, for skipping unchanged media.
func (s Script) Source() string {
	h := sha256.Sum256([]byte(generatorVersion + "\x00" + s.Kind + "\x00" + s.Title + "\x00" + s.Footer + "\x00" + s.Text))
	return generatorVersion + ":" + hex.EncodeToString(h[:12])
}

// Turn is one paragraph of a script: a scene description or a speaker's
// sentences.
type Turn struct {
	Scene     string   // a picture description (no speech)
	Speaker   string   // who speaks; "" for a narrator without a name
	Sentences []string // what is spoken, a caption each
}

var (
	speakerRE  = regexp.MustCompile(`^\*\*([^*]{1,60}?):?\*\*:?\s*(.*)$`)
	linkRE     = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	emphasisRE = regexp.MustCompile(`\*\*|__|\*|_`)
)

// ParseScript splits a script into turns.
func ParseScript(text string) ([]Turn, error) {
	var turns []Turn
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		p := strings.TrimSpace(strings.Join(strings.Fields(para), " "))
		if p == "" {
			continue
		}
		if m := speakerRE.FindStringSubmatch(p); m != nil {
			turns = append(turns, Turn{Speaker: strings.TrimSpace(m[1]), Sentences: Sentences(plain(m[2]))})
			continue
		}
		if strings.HasPrefix(p, "*") && strings.HasSuffix(p, "*") {
			turns = append(turns, Turn{Scene: plain(strings.Trim(p, "*"))})
			continue
		}
		if strings.HasPrefix(p, "#") {
			continue // headings are not spoken
		}
		turns = append(turns, Turn{Sentences: Sentences(plain(p))})
	}
	spoken := 0
	for _, t := range turns {
		spoken += len(t.Sentences)
	}
	if spoken == 0 {
		return nil, errors.New("the script has nothing to say: write its lines as **Speaker:** text")
	}
	return turns, nil
}

func plain(s string) string {
	s = linkRE.ReplaceAllString(s, "$1")
	return strings.TrimSpace(emphasisRE.ReplaceAllString(s, ""))
}

// abbreviations end with a dot but rarely end a sentence.
var abbreviations = map[string]bool{"esim": true, "ns": true, "mm": true, "jne": true, "yms": true, "tms": true, "ks": true,
	"n": true, "noin": false, "v": true, "s": true, "klo": true, "ym": true, "eli": false, "t": true, "ts": true, "vrt": true}

// Sentences splits text after ., ! and ? when a capital letter or digit
// follows, but not after common Finnish abbreviations.
func Sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		j := i + 1
		for j < len(text) && (text[j] == '"' || text[j] == '\'' || text[j] == ')' || text[j] == '.') {
			j++
		}
		if j >= len(text) || text[j] != ' ' {
			continue
		}
		next, _ := utf8.DecodeRuneInString(text[j+1:])
		if !unicode.IsUpper(next) && !unicode.IsDigit(next) && next != '"' && next != '”' {
			continue
		}
		if c == '.' {
			word := text[start:i]
			if k := strings.LastIndexAny(word, " ("); k >= 0 {
				word = word[k+1:]
			}
			if abbreviations[strings.ToLower(word)] {
				continue
			}
		}
		if s := strings.TrimSpace(text[start:j]); s != "" {
			out = append(out, s)
		}
		start = j + 1
		i = j
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// Generated is what Generate made, in a work directory the caller removes.
type Generated struct {
	File        string // the video (MP4) or podcast (MP3)
	Poster      string // a PNG
	Cues        []Cue
	Duration    float64
	ContentType string
}

// Tools reports which of the generator's programs are missing.
func Tools() []string {
	var missing []string
	for _, t := range []string{"espeak-ng", "ffmpeg"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}

const (
	sampleRate     = 22050 // espeak-ng's output: mono, 16-bit
	pauseSentence  = 0.35  // seconds between sentences
	pauseTurn      = 0.8   // between speakers
	fontFile       = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	fontFileBold   = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
	slideWidth     = 1280
	slideHeight    = 720
	slideFPS       = 5
	slideKeyframes = 10 // a keyframe every 2 s keeps seeking quick
)

// voices give each speaker a voice of their own; the first is the
// narrator's.
var voices = []string{"fi", "fi+f3", "fi+m3", "fi+f2", "fi+m2", "fi+f4"}

// Generate speaks the script, draws its slides (video) and writes its
// captions, all in dir.
func Generate(ctx context.Context, s Script, dir string) (*Generated, error) {
	if missing := Tools(); len(missing) > 0 {
		return nil, fmt.Errorf("media: %s not installed (Debian: apt-get install espeak-ng ffmpeg fonts-dejavu-core)", strings.Join(missing, " and "))
	}
	turns, err := ParseScript(s.Text)
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", s.ID, err)
	}
	voiceOf := map[string]string{}
	var pcm bytes.Buffer
	var cues []Cue
	type slide struct {
		text       string
		start, end float64
	}
	var slides []slide
	var speakers []slide
	at := func() float64 { return float64(pcm.Len()/2) / sampleRate }
	silence := func(sec float64) { pcm.Write(make([]byte, 2*int(sec*sampleRate))) }
	silence(0.5)
	for n, t := range turns {
		if t.Scene != "" {
			if k := len(slides); k > 0 {
				slides[k-1].end = at()
			}
			slides = append(slides, slide{text: t.Scene, start: at()})
			continue
		}
		voice, ok := voiceOf[t.Speaker]
		if !ok {
			voice = voices[len(voiceOf)%len(voices)]
			voiceOf[t.Speaker] = voice
		}
		turnStart := at()
		for i, sentence := range t.Sentences {
			samples, err := speak(ctx, dir, voice, sentence, fmt.Sprintf("s%03d-%02d", n, i))
			if err != nil {
				return nil, fmt.Errorf("media %s: %w", s.ID, err)
			}
			start := at()
			pcm.Write(samples)
			cues = append(cues, Cue{Start: round3(start), End: round3(at()), Voice: t.Speaker, Text: wrapCue(sentence)})
			silence(pauseSentence)
		}
		if t.Speaker != "" {
			speakers = append(speakers, slide{text: t.Speaker, start: turnStart, end: at()})
		}
		silence(pauseTurn - pauseSentence)
	}
	silence(1)
	total := at()
	if k := len(slides); k > 0 {
		slides[k-1].end = total
	}
	wav := filepath.Join(dir, "speech.wav")
	if err := os.WriteFile(wav, wavFile(pcm.Bytes()), 0o600); err != nil {
		return nil, err
	}

	g := &Generated{Cues: cues, Duration: total, Poster: filepath.Join(dir, "poster.png")}
	// The poster: the title on the course colours.
	title := filepath.Join(dir, "title.txt")
	if err := os.WriteFile(title, []byte(wrapText(s.Title, 36)), 0o600); err != nil {
		return nil, err
	}
	footer := filepath.Join(dir, "footer.txt")
	if err := os.WriteFile(footer, []byte(s.Footer), 0o600); err != nil {
		return nil, err
	}
	if err := ffmpeg(ctx, "-f", "lavfi", "-i", fmt.Sprintf("color=c=0x1d3b53:s=%dx%d:d=1", slideWidth, slideHeight),
		"-vf", drawText(title, fontFileBold, 56, "(w-text_w)/2", "(h-text_h)/2-40", "")+","+drawText(footer, fontFile, 26, "(w-text_w)/2", "h-90", ""),
		"-frames:v", "1", g.Poster); err != nil {
		return nil, err
	}

	if s.Kind == KindAudio {
		g.File, g.ContentType = filepath.Join(dir, s.ID+".mp3"), "audio/mpeg"
		if err := ffmpeg(ctx, "-i", wav, "-c:a", "libmp3lame", "-b:a", "64k", "-ac", "1", "-metadata", "title="+s.Title, g.File); err != nil {
			return nil, err
		}
		return g, nil
	}
	// The video: a slide per scene description, the speaker's name below
	// it, the title above, the course name at the foot.
	filters := []string{drawText(title, fontFileBold, 34, "80", "50", "")}
	for i, sl := range slides {
		f := filepath.Join(dir, fmt.Sprintf("scene%03d.txt", i))
		if err := os.WriteFile(f, []byte(wrapText(sl.text, 48)), 0o600); err != nil {
			return nil, err
		}
		filters = append(filters, drawText(f, fontFile, 40, "80", "200", enable(sl.start, sl.end)))
	}
	for i, sp := range speakers {
		f := filepath.Join(dir, fmt.Sprintf("speaker%03d.txt", i))
		if err := os.WriteFile(f, []byte(sp.text), 0o600); err != nil {
			return nil, err
		}
		filters = append(filters, drawText(f, fontFileBold, 38, "80", "h-190", enable(sp.start, sp.end)))
	}
	filters = append(filters, drawText(footer, fontFile, 24, "80", "h-80", ""))
	script := filepath.Join(dir, "filters.txt")
	if err := os.WriteFile(script, []byte("[0:v]"+strings.Join(filters, ",")+"[v]"), 0o600); err != nil {
		return nil, err
	}
	g.File, g.ContentType = filepath.Join(dir, s.ID+".mp4"), "video/mp4"
	err = ffmpeg(ctx, "-f", "lavfi", "-i", fmt.Sprintf("color=c=0x1d3b53:s=%dx%d:r=%d:d=%.3f", slideWidth, slideHeight, slideFPS, total),
		"-i", wav, "-filter_complex_script", script, "-map", "[v]", "-map", "1:a",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-pix_fmt", "yuv420p", "-g", fmt.Sprint(slideKeyframes),
		"-c:a", "aac", "-b:a", "96k", "-ac", "1", "-movflags", "+faststart", "-metadata", "title="+s.Title, "-shortest", g.File)
	if err != nil {
		return nil, err
	}
	return g, nil
}

func enable(from, to float64) string { return fmt.Sprintf("between(t,%.3f,%.3f)", from, to) }

func drawText(file, font string, size int, x, y, when string) string {
	f := fmt.Sprintf("drawtext=fontfile=%s:textfile=%s:fontcolor=white:fontsize=%d:line_spacing=12:x=%s:y=%s", font, file, size, x, y)
	if when != "" {
		f += ":enable='" + when + "'"
	}
	return f
}

// speechRate is espeak-ng's rate (its default): with the pauses, Finnish
// comes out at about course.SpeechWPM words a minute, the rate media
// minutes are checked at (TestGeneratedLengthMatchesScript).
const speechRate = "175"

func speak(ctx context.Context, dir, voice, text, name string) ([]byte, error) {
	out := filepath.Join(dir, name+".wav")
	cmd := exec.CommandContext(ctx, "espeak-ng", "-v", voice, "-s", speechRate, "-w", out, "--stdin")
	cmd.Stdin = strings.NewReader(text)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %v: %s", err, bytes.TrimSpace(msg))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	os.Remove(out)
	return wavSamples(data)
}

// wavSamples returns the PCM data of a mono 16-bit WAV file at sampleRate.
func wavSamples(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("espeak-ng did not write a WAV file")
	}
	var rate uint32
	var channels, bits uint16
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8:]
		if size > len(body) || size < 0 {
			size = len(body)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, errors.New("the WAV format chunk is short")
			}
			channels, rate, bits = binary.LittleEndian.Uint16(body[2:4]), binary.LittleEndian.Uint32(body[4:8]), binary.LittleEndian.Uint16(body[14:16])
		case "data":
			if channels != 1 || bits != 16 || rate != sampleRate {
				return nil, fmt.Errorf("expected %d Hz mono 16-bit speech, got %d Hz, %d channels, %d bits", sampleRate, rate, channels, bits)
			}
			return body[:size&^1], nil
		}
		p += 8 + size + size%2
	}
	return nil, errors.New("the WAV file has no data")
}

func wavFile(pcm []byte) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + len(pcm)))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1)) // PCM
	w(uint16(1)) // mono
	w(uint32(sampleRate))
	w(uint32(sampleRate * 2))
	w(uint16(2))
	w(uint16(16))
	b.WriteString("data")
	w(uint32(len(pcm)))
	b.Write(pcm)
	return b.Bytes()
}

func ffmpeg(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, bytes.TrimSpace(msg))
	}
	return nil
}

// wrapCue breaks a long caption into two balanced lines.
func wrapCue(s string) string {
	if utf8.RuneCountInString(s) <= 42 {
		return s
	}
	mid := len(s) / 2
	best := -1
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && (best < 0 || abs(i-mid) < abs(best-mid)) {
			best = i
		}
	}
	if best < 0 {
		return s
	}
	return s[:best] + "\n" + s[best+1:]
}

// wrapText breaks text into lines of at most width characters.
func wrapText(s string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// Produce generates a script's media and stores it under the script's id
// with its Finnish captions and poster, replacing an older version.
func (l *Catalog) Produce(ctx context.Context, s Script) (*Item, error) {
	dir, err := os.MkdirTemp("", "tyokyky-media-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	g, err := Generate(ctx, s, dir)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(g.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	it, err := l.Put(ctx, Upload{ID: s.ID, Title: s.Title, Uploader: "generator", Body: f, Replace: true, Source: s.Source(), Kinds: []string{s.Kind}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.ID, err)
	}
	if _, err := l.SetCaptions(ctx, it.ID, "fi", WriteVTT(g.Cues)); err != nil {
		return nil, fmt.Errorf("%s captions: %w", s.ID, err)
	}
	poster, err := os.ReadFile(g.Poster)
	if err != nil {
		return nil, err
	}
	it, err = l.SetPoster(ctx, it.ID, bytes.NewReader(poster))
	if err != nil {
		return nil, fmt.Errorf("%s poster: %w", s.ID, err)
	}
	return it, nil
}
