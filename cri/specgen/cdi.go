package specgen

import (
	"fmt"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"tags.cncf.io/container-device-interface/pkg/cdi"
	"tags.cncf.io/container-device-interface/pkg/parser"
)

// CDI injects Container Device Interface devices (vendor.com/class=name)
// into OCI specs, from the specs that device plugins and DRA drivers
// write to the spec directories. It is safe for concurrent use.
type CDI struct {
	cache *cdi.Cache
}

// NewCDI reads no directory yet: each Inject rescans them, so a spec
// written a moment before a container is made is found.
func NewCDI(dirs []string) *CDI {
	c, _ := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false)) // never fails
	return &CDI{cache: c}
}

// CDIDevices lists the CDI devices that a container config asks for: its
// cdi_devices, then those its cdi.k8s.io/ annotations name (the device
// plugins' older way), each once. A name that is not a qualified CDI
// device name is refused.
func CDIDevices(cfg *runtimeapi.ContainerConfig) ([]string, error) {
	var out []string
	for i, d := range cfg.GetCDIDevices() {
		if !parser.IsQualifiedName(d.GetName()) {
			return nil, invalid("config.cdi_devices[%d].name %q is not a qualified CDI device name (vendor.com/class=name)", i, d.GetName())
		}
		if !slices.Contains(out, d.GetName()) {
			out = append(out, d.GetName())
		}
	}
	_, annotated, err := cdi.ParseAnnotations(cfg.GetAnnotations())
	if err != nil {
		return nil, invalid("config.annotations (%s*): %v", cdi.AnnotationPrefix, err)
	}
	sort.Strings(annotated) // annotations are a map
	for _, d := range annotated {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Inject applies the named devices' edits (device nodes, mounts, env,
// hooks) to spec. A device that no spec defines is refused.
func (c *CDI) Inject(spec *specs.Spec, devices []string) error {
	if len(devices) == 0 {
		return nil
	}
	// Errors of other specs in the directories do not concern these
	// devices; an unresolved device is reported below.
	_ = c.cache.Refresh()
	unresolved, err := c.cache.InjectDevices(spec, devices...)
	if len(unresolved) > 0 {
		return invalid("CDI devices %q: no CDI spec in %v defines them", unresolved, c.cache.GetSpecDirectories())
	}
	if err != nil {
		return fmt.Errorf("injecting CDI devices %q: %w", devices, err)
	}
	return nil
}
