package media

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseVTT(t *testing.T) {
	good := "\uFEFFWEBVTT - Jarin polku\nKind: captions\n\nNOTE tekijä: kurssi\n\nSTYLE\n::cue { color: yellow }\n\n" +
		"alku\n00:00:00.500 --> 00:00:04.000 line:90% align:center\n<v Kertoja>Tämä on &amp; <i>koe</i>.\n\n" +
		"00:04.000 --> 00:07.250\r\nToinen\r\nrivi\r\n\r\n01:00:00.000 --> 01:00:01.000\nTunnin päästä\n"
	cues, err := ParseVTT([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []Cue{{0.5, 4, "Kertoja", "Tämä on & koe."}, {4, 7.25, "", "Toinen\nrivi"}, {3600, 3601, "", "Tunnin päästä"}}
	if !reflect.DeepEqual(cues, want) {
		t.Fatalf("cues = %+v", cues)
	}
	// Written back and parsed again, the cues are the same.
	again, err := ParseVTT(WriteVTT(cues))
	if err != nil || !reflect.DeepEqual(again, cues) {
		t.Fatalf("round trip: %+v %v", again, err)
	}

	for _, c := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"no header", "00:00.000 --> 00:01.000\nx\n", 1, "WEBVTT"},
		{"header glued", "WEBVTTX\n", 1, "WEBVTT"},
		{"no blank after header", "WEBVTT\n00:00.000 --> 00:01.000\nx\n", 2, "blank line"},
		{"bad time", "WEBVTT\n\n00:00.000 --> 00:01\nx\n", 3, "end time"},
		{"minutes 60", "WEBVTT\n\n00:60.000 --> 01:01.000\nx\n", 3, "59"},
		{"backwards", "WEBVTT\n\n00:02.000 --> 00:01.000\nx\n", 3, "before"},
		{"out of order", "WEBVTT\n\n00:02.000 --> 00:03.000\nx\n\n00:01.000 --> 00:04.000\ny\n", 6, "order"},
		{"missing blank line", "WEBVTT\n\n00:00.000 --> 00:01.000\nx\n00:01.000 --> 00:02.000\ny\n", 5, "blank line"},
		{"bad setting", "WEBVTT\n\n00:00.000 --> 00:01.000 colour:red\nx\n", 3, "setting"},
		{"no cues", "WEBVTT\n\n", 3, "no cues"},
		{"empty cue", "WEBVTT\n\n00:00.000 --> 00:01.000\n<b></b>\n", 3, "no text"},
		{"not UTF-8", "WEBVTT\n\n00:00.000 --> 00:01.000\n\xff\n", 4, "UTF-8"},
		{"id without timing", "WEBVTT\n\nalku\njotain\n", 3, "timing"},
	} {
		_, err := ParseVTT([]byte(c.text))
		errs, ok := err.(VTTErrors)
		if !ok || len(errs) == 0 {
			t.Errorf("%s: %v, want line errors", c.name, err)
			continue
		}
		if errs[0].Line != c.line || !strings.Contains(errs[0].Msg, c.msg) {
			t.Errorf("%s: %v, want line %d with %q", c.name, errs[0], c.line, c.msg)
		}
	}
}

func FuzzParseVTT(f *testing.F) {
	f.Add([]byte("WEBVTT\n\n00:00.000 --> 00:01.000\n<v A>Hei\n"))
	f.Add([]byte("WEBVTT\n\nNOTE x\n\n1\n00:00:01.000 --> 00:00:02.000 align:start\nMoi &lt;\n"))
	f.Add([]byte("WEBVTT\r\n\r\n99:59:59.999 --> 100:00:00.000\r\nx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cues, err := ParseVTT(data)
		if err != nil {
			if _, ok := err.(VTTErrors); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		// Whatever parses, writes back to a file with the same cues.
		again, err := ParseVTT(WriteVTT(cues))
		if err != nil {
			t.Fatalf("written cues do not parse: %v\n%s", err, WriteVTT(cues))
		}
		if len(again) != len(cues) {
			t.Fatalf("%d cues became %d", len(cues), len(again))
		}
		for i := range cues {
			if again[i].Start != cues[i].Start || again[i].End != cues[i].End {
				t.Fatalf("cue %d times changed: %+v → %+v", i, cues[i], again[i])
			}
		}
	})
}

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		head string
		kind string
		ct   string
	}{
		{"\x00\x00\x00\x20ftypisom\x00\x00", KindVideo, "video/mp4"},
		{"\x00\x00\x00\x20ftypM4A \x00\x00", KindAudio, "audio/mp4"},
		{"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", KindVideo, "video/webm"},
		{"ID3\x04\x00", KindAudio, "audio/mpeg"},
		{"\xff\xfb\x90\x00", KindAudio, "audio/mpeg"},
		{"OggS\x00\x02", KindAudio, "audio/ogg"},
		{"\x89PNG\r\n\x1a\n", KindImage, "image/png"},
		{"\xff\xd8\xff\xe0", KindImage, "image/jpeg"},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", KindImage, "image/webp"},
		{"\uFEFFWEBVTT\n", KindCaptions, "text/vtt; charset=utf-8"},
		{`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">`, KindImage, "image/svg+xml"},
	} {
		f, err := Sniff([]byte(c.head))
		if err != nil || f.Kind != c.kind || f.ContentType != c.ct {
			t.Errorf("%q: %+v %v", c.head, f, err)
		}
	}
	for _, bad := range []string{"", "hello", "<html><body>", "\x1a\x45\xdf\xa3matroska", "RIFF\x00\x00\x00\x00WAVE", "WEBVTTX"} {
		if f, err := Sniff([]byte(bad)); err == nil {
			t.Errorf("%q sniffed as %+v", bad, f)
		}
	}
}

func TestSentences(t *testing.T) {
	got := Sentences("Hän on 52-vuotias. Esim. työkokeilu ns. palvelupolulla alkoi 1. päivä. Toimiiko? Kyllä! Vuonna 2019. Se päättyi.")
	want := []string{"Hän on 52-vuotias.", "Esim. työkokeilu ns. palvelupolulla alkoi 1. päivä.", "Toimiiko?", "Kyllä!", "Vuonna 2019.", "Se päättyi."}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
	turns, err := ParseScript("*Kuvassa aula.*\n\n**Jari:** Hei [linkki](x). *Painotus* tässä.\n\nKertojan teksti ilman nimeä.\n\n## Otsikko")
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 3 || turns[0].Scene != "Kuvassa aula." || turns[1].Speaker != "Jari" || turns[1].Sentences[0] != "Hei linkki." ||
		turns[1].Sentences[1] != "Painotus tässä." || turns[2].Speaker != "" {
		t.Fatalf("turns = %+v", turns)
	}
	if _, err := ParseScript("*Vain kuvaus.*"); err == nil {
		t.Fatal("a script with nothing to say was accepted")
	}
}

func TestCheckSVGReportsTheLine(t *testing.T) {
	err := CheckSVG([]byte("<svg>\n<g>\n<a xlink:href=\"javascript:alert(1)\">x</a></g></svg>"))
	le, ok := err.(*LineError)
	if !ok || le.Line != 3 {
		t.Fatalf("%v", err)
	}
}
