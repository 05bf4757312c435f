package framework

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"debug/elf"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is Debian's busybox-static binary, the base of every test
// image unless ImageSpec.Busybox names another.
const BusyboxPath = "/bin/busybox"

// DefaultPasswd and DefaultGroup are the base image's account files. They
// name the users that critest's images rely on (nobody, www-data).
const (
	DefaultPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
		"www-data:x:33:33:www-data:/var/www:/bin/false\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	DefaultGroup = "root:x:0:\n" +
		"daemon:x:1:\n" +
		"www-data:x:33:\n" +
		"nogroup:x:65534:\n"
)

// File is one file added to an image.
type File struct {
	Content []byte
	Mode    int64  // 0644 when zero
	Link    string // if set, the file is a symbolic link to Link
	// Special, if set, makes the file a FIFO (tar.TypeFifo) or a device
	// node (tar.TypeChar, tar.TypeBlock, with Major and Minor).
	Special      byte
	Major, Minor int64
}

// ImageSpec describes a test image: busybox plus the given config and files.
type ImageSpec struct {
	Entrypoint []string
	Cmd        []string // defaults to ["sh"] when Entrypoint and Cmd are both empty
	Env        []string // PATH is always set first
	User       string
	WorkingDir string
	Labels     map[string]string
	Volumes    []string
	StopSignal string
	// Passwd and Group replace DefaultPasswd and DefaultGroup when set.
	Passwd, Group string
	// Files are added in one layer on top of the base.
	Files map[string]File
	// RandomLayers adds one layer per entry, each holding that many bytes
	// of random (incompressible) data: for pull benchmarks and for images
	// that must differ.
	RandomLayers []int64
	// OCI selects OCI media types instead of Docker schema 2.
	OCI bool
	// Busybox is the busybox binary of the base layer, BusyboxPath when
	// empty. A dynamically linked one brings its shared libraries along.
	Busybox string
}

// BuildImage builds the image described by spec. The busybox base layer is
// built once per test binary and shared, as a registry would share it.
func BuildImage(t testing.TB, spec ImageSpec) v1.Image {
	t.Helper()
	img, err := buildImage(spec)
	if err != nil {
		t.Fatalf("building test image: %v", err)
	}
	return img
}

func buildImage(spec ImageSpec) (v1.Image, error) {
	base, err := busyboxLayer(or(spec.Busybox, BusyboxPath))
	if err != nil {
		return nil, err
	}
	layers := []v1.Layer{base}
	files := map[string]File{
		"etc/passwd": {Content: []byte(or(spec.Passwd, DefaultPasswd))},
		"etc/group":  {Content: []byte(or(spec.Group, DefaultGroup))},
	}
	for p, f := range spec.Files {
		files[strings.TrimPrefix(p, "/")] = f
	}
	fl, err := layerFromFiles(files)
	if err != nil {
		return nil, err
	}
	layers = append(layers, fl)
	for _, size := range spec.RandomLayers {
		data := make([]byte, size)
		if _, err := rand.Read(data); err != nil {
			return nil, err
		}
		rl, err := layerFromFiles(map[string]File{fmt.Sprintf("data/random-%d-%x", size, data[:8]): {Content: data}})
		if err != nil {
			return nil, err
		}
		layers = append(layers, rl)
	}

	img := empty.Image
	if spec.OCI {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cfgFile, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cfgFile.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Created = v1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, spec.Env...)
	cfg.Config.Entrypoint = spec.Entrypoint
	cfg.Config.Cmd = spec.Cmd
	if len(spec.Entrypoint) == 0 && len(spec.Cmd) == 0 {
		cfg.Config.Cmd = []string{"sh"}
	}
	cfg.Config.User = spec.User
	cfg.Config.WorkingDir = spec.WorkingDir
	cfg.Config.Labels = spec.Labels
	cfg.Config.StopSignal = spec.StopSignal
	if len(spec.Volumes) > 0 {
		cfg.Config.Volumes = map[string]struct{}{}
		for _, v := range spec.Volumes {
			cfg.Config.Volumes[v] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cfg)
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

var (
	busyboxMu     sync.Mutex
	busyboxLayers = map[string]v1.Layer{} // by busybox binary
)

// busyboxLayer is a root filesystem with the busybox binary at
// /bin/busybox, every applet hard-linked to it in /bin (hard links, not
// symlinks, so that masking a path never masks busybox itself), the shared
// libraries it needs, and the usual empty directories. It is built once per
// binary and shared, as a registry would share it.
func busyboxLayer(path string) (v1.Layer, error) {
	busyboxMu.Lock()
	defer busyboxMu.Unlock()
	if l, ok := busyboxLayers[path]; ok {
		return l, nil
	}
	l, err := buildBusyboxLayer(path)
	if err != nil {
		return nil, err
	}
	busyboxLayers[path] = l
	return l, nil
}

func buildBusyboxLayer(path string) (v1.Layer, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s (install Debian's busybox-static): %w", path, err)
	}
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	libs, err := sharedLibraries(path)
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "usr/bin",
		"usr/sbin", "sbin", "var", "var/run", "var/www"}
	modes := map[string]int64{"proc": 0o555, "root": 0o700, "sys": 0o555, "tmp": 0o1777}
	for _, lib := range libs {
		for d := filepath.Dir(lib[1:]); d != "."; d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	dirs = slices.Compact(dirs)
	for _, d := range dirs {
		mode := modes[d]
		if mode == 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	for _, a := range applets {
		if a == "busybox" {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "bin/" + a, Linkname: "bin/busybox", Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, lib := range libs {
		b, err := os.ReadFile(lib)
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: lib[1:], Mode: 0o755, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return layerFromBytes(buf.Bytes())
}

// libraryDirs are where Debian keeps shared libraries.
var libraryDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/lib", "/usr/lib"}

// sharedLibraries returns the dynamic loader and the libraries (by their
// paths on this machine) that the ELF binary at path needs, transitively;
// none for a static binary.
func sharedLibraries(path string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	var visit func(string) error
	visit = func(p string) error {
		f, err := elf.Open(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		defer f.Close()
		for _, prog := range f.Progs {
			if prog.Type != elf.PT_INTERP {
				continue
			}
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return err
			}
			if interp := strings.TrimRight(string(b), "\x00"); !seen[interp] {
				seen[interp] = true
				out = append(out, interp)
			}
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			return err
		}
		for _, name := range needed {
			lib := ""
			for _, d := range libraryDirs {
				if _, err := os.Stat(filepath.Join(d, name)); err == nil {
					lib = filepath.Join(d, name)
					break
				}
			}
			if lib == "" {
				return fmt.Errorf("%s needs %s, which is not on this machine", p, name)
			}
			if !seen[lib] {
				seen[lib] = true
				out = append(out, lib)
				if err := visit(lib); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(path); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// layerFromFiles makes a layer holding files (paths relative to /), with
// parent directories created as needed.
func layerFromFiles(files map[string]File) (v1.Layer, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, p := range paths {
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
					return nil, err
				}
			}
		}
		f := files[p]
		hdr := &tar.Header{Name: p, Mode: f.Mode, ModTime: epoch}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		switch {
		case f.Link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.Link, 0o777
		case f.Special != 0:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = f.Special, f.Major, f.Minor
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return layerFromBytes(buf.Bytes())
}

func layerFromBytes(b []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
