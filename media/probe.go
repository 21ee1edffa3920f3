package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ProbeResult is what ffprobe tells of a media file.
type ProbeResult struct {
	Duration float64
	Codecs   []string
	Width    int
	Height   int
	HasVideo bool
	HasAudio bool
}

// ErrNoProbe means ffprobe is not installed: durations stay unknown.
var ErrNoProbe = errors.New("ffprobe is not installed")

// FFProbe runs ffprobe on an address (it reads only what it needs, with
// range requests) and reports duration, codecs and picture size.
func FFProbe(ctx context.Context, url string) (*ProbeResult, error) {
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		return nil, ErrNoProbe
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// rw_timeout (µs): a store that stops answering fails the probe in
	// 15 s rather than at the one-minute limit.
	cmd := exec.CommandContext(ctx, bin, "-v", "error", "-rw_timeout", "15000000", "-print_format", "json", "-show_format", "-show_streams", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:] // drop the address ffprobe repeats
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, errors.New(msg)
	}
	return parseProbe(out)
}

func parseProbe(out []byte) (*ProbeResult, error) {
	var doc struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			CodecType   string `json:"codec_type"`
			CodecName   string `json:"codec_name"`
			Width       int    `json:"width"`
			Height      int    `json:"height"`
			Disposition struct {
				AttachedPic int `json:"attached_pic"`
			} `json:"disposition"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("ffprobe output: %w", err)
	}
	r := &ProbeResult{}
	r.Duration, _ = strconv.ParseFloat(doc.Format.Duration, 64)
	for _, s := range doc.Streams {
		switch s.CodecType {
		case "video":
			if s.Disposition.AttachedPic == 1 {
				continue // cover art in an MP3
			}
			r.HasVideo = true
			r.Width, r.Height = s.Width, s.Height
		case "audio":
			r.HasAudio = true
		default:
			continue
		}
		r.Codecs = append(r.Codecs, s.CodecName)
	}
	return r, nil
}
