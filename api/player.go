package api

import (
	"bytes"
	"fmt"
	"html"
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
func (s *Server) withPlayers(body, lang string) string {
	if !strings.Contains(body, `class="media-player"`) {
		return body
	}
	var snap *media.Snapshot
	if s.media != nil {
		snap = s.media.Snapshot()
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

// playerHTML is a native player with caption tracks, a speed control and
// an interactive transcript. It works without JavaScript (native controls,
// captions, downloads); app.js adds seeking from the transcript, cue
// highlighting, speed, resuming and progress.
func playerHTML(id string, it *media.Item, lang string) string {
	t := func(key string) string { return html.EscapeString(web.T(lang, key)) }
	eid := html.EscapeString(id)
	var b bytes.Buffer
	if it == nil || !it.Playable() {
		fmt.Fprintf(&b, `<div class="media-player media-missing" data-media="%s"><p role="status">%s</p></div>`, eid, t("player.missing"))
		return b.String()
	}
	tag := "video"
	if it.Kind == media.KindAudio {
		tag = "audio"
	}
	fmt.Fprintf(&b, `<div class="media-player" data-media="%s" data-duration="%s" data-msg-storage="%s" data-msg-other="%s" data-msg-recovered="%s">`,
		eid, strconv.FormatFloat(it.Duration, 'f', 3, 64), t("player.error.storage"), t("player.error.other"), t("player.recovered"))
	fmt.Fprintf(&b, `<%s id="player-%s" controls preload="metadata"`, tag, eid)
	if tag == "video" {
		b.WriteString(` playsinline`)
		if it.Poster != nil {
			fmt.Fprintf(&b, ` poster="%s"`, mediaPosterURL(eid))
		}
		if it.Width > 0 && it.Height > 0 {
			fmt.Fprintf(&b, ` width="%d" height="%d"`, it.Width, it.Height)
		}
	}
	fmt.Fprintf(&b, `><source src="%s" type="%s">`, mediaFileURL(eid), html.EscapeString(it.ContentType))
	// Finnish captions are on by default; Swedish (and others) selectable.
	def := ""
	if len(it.Captions) > 0 {
		def = it.Captions[0].Lang // sorted: fi, sv, en, others
	}
	for _, c := range it.Captions {
		fmt.Fprintf(&b, `<track kind="captions" src="%s" srclang="%s" label="%s"`, mediaTrackURL(eid, c.Lang), c.Lang, html.EscapeString(trackLabel(c.Lang)))
		if c.Lang == def {
			b.WriteString(` default`)
		}
		b.WriteString(`>`)
	}
	fmt.Fprintf(&b, `<p>%s <a href="%s">%s</a></p></%s>`, t("player.unsupported"), mediaFileURL(eid), t("player.download."+tag), tag)

	// Controls that need the script are hidden until it runs.
	fmt.Fprintf(&b, `<div class="player-tools" hidden><label>%s <select class="player-speed">`, t("player.speed"))
	for _, r := range []string{"0.75", "1", "1.25", "1.5", "1.75", "2"} {
		sel := ""
		if r == "1" {
			sel = ` selected`
		}
		fmt.Fprintf(&b, `<option value="%s"%s>%s×</option>`, r, sel, strings.Replace(r, ".", map[bool]string{true: ".", false: ","}[lang == "en"], 1))
	}
	b.WriteString(`</select></label>`)
	fmt.Fprintf(&b, `<p class="player-resume" hidden><button type="button" class="player-resume-button">%s <span></span></button></p>`, t("player.resume"))
	b.WriteString(`</div>`)
	fmt.Fprintf(&b, `<p class="player-status" role="status" aria-live="polite"></p>`)

	cap := it.Caption("fi")
	if cap == nil && len(it.Captions) > 0 {
		cap = &it.Captions[0]
	}
	if cap != nil {
		fmt.Fprintf(&b, `<details class="cue-list" open><summary>%s</summary>`, t("player.transcript"))
		fmt.Fprintf(&b, `<p class="cue-options" hidden><label><input type="checkbox" class="cue-follow" checked> %s</label></p>`, t("player.follow"))
		fmt.Fprintf(&b, `<ol class="cues" lang="%s" aria-label="%s">`, cap.Lang, t("player.transcript"))
		voice := ""
		for i, c := range cap.Cues {
			fmt.Fprintf(&b, `<li><button type="button" class="cue" data-start="%s" data-end="%s" id="cue-%s-%d"><span class="cue-time">%s</span> `,
				strconv.FormatFloat(c.Start, 'f', 3, 64), strconv.FormatFloat(c.End, 'f', 3, 64), eid, i, clock(c.Start))
			if c.Voice != "" && c.Voice != voice {
				fmt.Fprintf(&b, `<span class="cue-voice">%s:</span> `, html.EscapeString(c.Voice))
			}
			voice = c.Voice
			b.WriteString(html.EscapeString(strings.ReplaceAll(c.Text, "\n", " ")))
			b.WriteString(`</button></li>`)
		}
		b.WriteString(`</ol>`)
		fmt.Fprintf(&b, `<p class="cue-downloads">%s <a href="%s" download>%s</a>`, t("player.download"), mediaTranscriptURL(eid)+"?kieli="+cap.Lang, t("player.download.txt"))
		for _, c := range it.Captions {
			fmt.Fprintf(&b, ` · <a href="%s?lataa=1" download>WebVTT (%s)</a>`, mediaTrackURL(eid, c.Lang), html.EscapeString(trackLabel(c.Lang)))
		}
		b.WriteString(`</p></details>`)
	}
	b.WriteString(`</div>`)
	return b.String()
}
