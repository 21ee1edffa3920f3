package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// SampleMedia makes a real media file with ffmpeg for tests: "video" is an
// MP4 (H.264 test pattern with a tone), "audio" an MP3, "webm" a WebM.
func SampleMedia(dir, kind string, seconds int) (string, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return "", fmt.Errorf("ffmpeg is needed by the media tests: make test installs it (apt-get install ffmpeg espeak-ng)")
	}
	d := fmt.Sprint(seconds)
	var args []string
	var out string
	switch kind {
	case "video":
		out = filepath.Join(dir, "sample.mp4")
		args = []string{"-f", "lavfi", "-i", "testsrc=size=320x180:rate=10:duration=" + d, "-f", "lavfi", "-i", "sine=frequency=440:duration=" + d,
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", "-c:a", "aac", "-b:a", "48k", "-movflags", "+faststart", "-shortest", out}
	case "webm":
		out = filepath.Join(dir, "sample.webm")
		args = []string{"-f", "lavfi", "-i", "testsrc=size=160x90:rate=5:duration=" + d, "-c:v", "libvpx", "-b:v", "100k", out}
	case "audio":
		out = filepath.Join(dir, "sample.mp3")
		args = []string{"-f", "lavfi", "-i", "sine=frequency=330:duration=" + d, "-c:a", "libmp3lame", "-b:a", "48k", out}
	default:
		return "", fmt.Errorf("unknown sample kind %q", kind)
	}
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %v: %s", err, msg)
	}
	return out, nil
}

// SampleMediaBytes is SampleMedia's file, read.
func SampleMediaBytes(dir, kind string, seconds int) ([]byte, error) {
	path, err := SampleMedia(dir, kind, seconds)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}
