package media

import (
	"bytes"
	"errors"
	"strings"

	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/svgcheck"
)

// Kinds of media.
const (
	KindVideo    = "video"
	KindAudio    = "audio"
	KindImage    = "image"
	KindCaptions = "captions"
)

// Format is what the first bytes of a file say it is.
type Format struct {
	Kind        string // video, audio, image, captions
	ContentType string
	Ext         string // with the dot
}

// SniffLen is how many leading bytes Sniff looks at.
const SniffLen = 4096

// ErrUnknownType is returned for content that is none of the accepted
// formats, whatever its name or declared type says.
var ErrUnknownType = fault.New(fault.Unsupported, "media_unsupported_type", "", "the file is not a supported format: video MP4 or WebM, audio MP3, M4A or Ogg, image PNG, JPEG, WebP or SVG, captions WebVTT")

// ErrMatroska refuses Matroska that is not WebM.
var ErrMatroska = fault.New(fault.Unsupported, "media_matroska", "file", "the file is Matroska but not WebM: convert it to WebM or MP4")

// Sniff identifies a file by its content (magic bytes), never by its name
// or the type a client declares.
func Sniff(head []byte) (Format, error) {
	switch {
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		brand := string(head[8:12])
		switch brand {
		case "M4A ", "M4B ", "M4P ", "F4A ":
			return Format{KindAudio, "audio/mp4", ".m4a"}, nil
		}
		return Format{KindVideo, "video/mp4", ".mp4"}, nil
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		// EBML: WebM declares its DocType "webm" in the header.
		if bytes.Contains(head[:min(len(head), 64)], []byte("webm")) {
			return Format{KindVideo, "video/webm", ".webm"}, nil
		}
		return Format{}, ErrMatroska
	case bytes.HasPrefix(head, []byte("ID3")) || (len(head) >= 2 && head[0] == 0xFF && head[1]&0xE6 == 0xE2):
		// An ID3 tag, or an MPEG audio frame sync with layer III.
		return Format{KindAudio, "audio/mpeg", ".mp3"}, nil
	case bytes.HasPrefix(head, []byte("OggS")):
		return Format{KindAudio, "audio/ogg", ".ogg"}, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return Format{KindImage, "image/png", ".png"}, nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return Format{KindImage, "image/jpeg", ".jpg"}, nil
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return Format{KindImage, "image/webp", ".webp"}, nil
	}
	text := bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	if bytes.HasPrefix(text, []byte("WEBVTT")) && (len(text) == 6 || text[6] == ' ' || text[6] == '\t' || text[6] == '\n' || text[6] == '\r') {
		return Format{KindCaptions, "text/vtt; charset=utf-8", ".vtt"}, nil
	}
	if looksLikeSVG(text) {
		return Format{KindImage, "image/svg+xml", ".svg"}, nil
	}
	return Format{}, ErrUnknownType
}

func looksLikeSVG(b []byte) bool {
	s := strings.ToLower(string(bytes.TrimSpace(b)))
	if !strings.HasPrefix(s, "<?xml") && !strings.HasPrefix(s, "<svg") && !strings.HasPrefix(s, "<!--") {
		return false
	}
	return strings.Contains(s, "<svg")
}

// CheckSVG refuses SVG documents with anything active or external in them,
// with the line of the first problem (see internal/svgcheck: the same check
// as the course's figures). Such images are also served with a sandboxing
// Content-Security-Policy, so the check is a second line, not the only one.
func CheckSVG(doc []byte) error {
	var e *svgcheck.Error
	if err := svgcheck.Check(doc); errors.As(err, &e) {
		return &LineError{Line: e.Line, Msg: e.Msg}
	} else if err != nil {
		return &LineError{Line: 1, Msg: err.Error()}
	}
	return nil
}
