package api

import (
	"fmt"
	"html/template"
	"regexp"
	"strconv"
	"strings"

	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/web"
)

// playerSlotRE finds the player placeholders the course renderer leaves in
// section HTML; they are filled from the media catalog when a page is
// built (once per content and catalog revision), never per request.
var playerSlotRE = regexp.MustCompile(`<div class="media-player" data-media="([a-z0-9-]+)"></div>`)

// withPlayers puts a player in each placeholder of body.
func (h *pageHandlers) withPlayers(body, lang string) string {
	if !strings.Contains(body, `class="media-player"`) {
		return body
	}
	var snap *media.Snapshot
	if h.media != nil {
		snap = h.media.Snapshot()
	}
	return playerSlotRE.ReplaceAllStringFunc(body, func(slot string) string {
		id := playerSlotRE.FindStringSubmatch(slot)[1]
		var it *media.Item
		if snap != nil {
			it = snap.Items[id]
		}
		return playerHTML(id, it, lang)
	})
}

// clock writes seconds as m:ss or h:mm:ss.
func clock(sec float64) string {
	t := int(sec)
	if t >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
	}
	return fmt.Sprintf("%d:%02d", t/60, t%60)
}

// playerView is what the player template shows.
type playerView struct {
	ID, Lang, Duration, Poster, File, ContentType string
	Video, Missing                                bool
	Width, Height                                 int
	Tracks                                        []playerTrack
	Speeds                                        []playerSpeed
	Transcript                                    *playerTranscript
	T                                             func(string) string
}

type playerTrack struct {
	Lang, Label, URL string
	Default          bool
}

type playerSpeed struct {
	Value, Label string
	Selected     bool
}

type playerTranscript struct {
	Lang, Download string
	Cues           []playerCue
}

type playerCue struct {
	Start, End, Clock, Voice, Text string
	N                              int
}

// playerTemplate: html/template escapes every value in its context.
var playerTemplate = template.Must(template.New("player").Parse(`
{{- define "sources"}}<source src="{{.File}}" type="{{.ContentType}}">
{{- range .Tracks}}<track kind="captions" src="{{.URL}}" srclang="{{.Lang}}" label="{{.Label}}"{{if .Default}} default{{end}}>{{end -}}
{{end -}}
{{- if .Missing}}<div class="media-player media-missing" data-media="{{.ID}}"><p role="status">{{call .T "player.missing"}}</p></div>
{{- else}}<div class="media-player" data-media="{{.ID}}" data-duration="{{.Duration}}" data-msg-storage="{{call .T "player.error.storage"}}" data-msg-other="{{call .T "player.error.other"}}" data-msg-recovered="{{call .T "player.recovered"}}">
{{- if .Video}}<video id="player-{{.ID}}" controls preload="metadata" playsinline{{if .Poster}} poster="{{.Poster}}"{{end}}{{if .Width}} width="{{.Width}}" height="{{.Height}}"{{end}}>{{template "sources" .}}<p>{{call .T "player.unsupported"}} <a href="{{.File}}">{{call .T "player.download.video"}}</a></p></video>
{{- else}}<audio id="player-{{.ID}}" controls preload="metadata">{{template "sources" .}}<p>{{call .T "player.unsupported"}} <a href="{{.File}}">{{call .T "player.download.audio"}}</a></p></audio>
{{- end -}}
<div class="player-tools" hidden><label>{{call .T "player.speed"}} <select class="player-speed">
{{- range .Speeds}}<option value="{{.Value}}"{{if .Selected}} selected{{end}}>{{.Label}}×</option>{{end -}}
</select></label><p class="player-resume" hidden><button type="button" class="player-resume-button">{{call .T "player.resume"}} <span></span></button></p></div><p class="player-status" role="status" aria-live="polite"></p>
{{- with .Transcript}}<details class="cue-list" open><summary>{{call $.T "player.transcript"}}</summary><p class="cue-options" hidden><label><input type="checkbox" class="cue-follow" checked> {{call $.T "player.follow"}}</label></p><ol class="cues" lang="{{.Lang}}" aria-label="{{call $.T "player.transcript"}}">
{{- range .Cues}}<li><button type="button" class="cue" data-start="{{.Start}}" data-end="{{.End}}" id="cue-{{$.ID}}-{{.N}}"><span class="cue-time">{{.Clock}}</span> {{if .Voice}}<span class="cue-voice">{{.Voice}}:</span> {{end}}{{.Text}}</button></li>{{end -}}
</ol><p class="cue-downloads">{{call $.T "player.download"}} <a href="{{.Download}}" download>{{call $.T "player.download.txt"}}</a>
{{- range $.Tracks}} · <a href="{{.URL}}?lataa=1" download>WebVTT ({{.Label}})</a>{{end -}}
</p></details>
{{- end -}}
</div>
{{- end}}`))

// playerHTML is a native player with caption tracks, a speed control and
// an interactive transcript. It works without JavaScript (native controls,
// captions, downloads); app.js adds seeking from the transcript, cue
// highlighting, speed, resuming and progress.
func playerHTML(id string, it *media.Item, lang string) string {
	v := playerView{ID: id, Lang: lang, T: func(key string) string { return web.T(lang, key) }}
	if it == nil || !it.Playable() {
		v.Missing = true
	} else {
		v.Video = it.Kind != media.KindAudio
		v.Duration = strconv.FormatFloat(it.Duration, 'f', 3, 64)
		v.File, v.ContentType = mediaFileURL(id), it.ContentType
		if v.Video {
			if it.Poster != nil {
				v.Poster = mediaPosterURL(id)
			}
			if it.Width > 0 && it.Height > 0 {
				v.Width, v.Height = it.Width, it.Height
			}
		}
		// Finnish captions are on by default; Swedish (and others) selectable.
		for i, c := range it.Captions { // sorted: fi, sv, en, others
			v.Tracks = append(v.Tracks, playerTrack{Lang: c.Lang, Label: trackLabel(c.Lang), URL: mediaTrackURL(id, c.Lang), Default: i == 0})
		}
		for _, r := range []string{"0.75", "1", "1.25", "1.5", "1.75", "2"} {
			label := r
			if lang != "en" {
				label = strings.Replace(r, ".", ",", 1)
			}
			v.Speeds = append(v.Speeds, playerSpeed{Value: r, Label: label, Selected: r == "1"})
		}
		cap := it.Caption("fi")
		if cap == nil && len(it.Captions) > 0 {
			cap = &it.Captions[0]
		}
		if cap != nil {
			tr := &playerTranscript{Lang: cap.Lang, Download: mediaTranscriptURL(id) + "?kieli=" + cap.Lang}
			voice := ""
			for i, c := range cap.Cues {
				pc := playerCue{N: i, Start: strconv.FormatFloat(c.Start, 'f', 3, 64), End: strconv.FormatFloat(c.End, 'f', 3, 64),
					Clock: clock(c.Start), Text: strings.ReplaceAll(c.Text, "\n", " ")}
				if c.Voice != "" && c.Voice != voice {
					pc.Voice = c.Voice
				}
				voice = c.Voice
				tr.Cues = append(tr.Cues, pc)
			}
			v.Transcript = tr
		}
	}
	var b strings.Builder
	if err := playerTemplate.Execute(&b, v); err != nil {
		return "" // the template is fixed and its data plain strings: not reached
	}
	return b.String()
}
