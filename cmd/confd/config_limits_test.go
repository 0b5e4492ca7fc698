package main

import (
	"path/filepath"
	"testing"
	"time"
)

// TestVertoLimitKeys: the Verto limits reach the endpoint, and a negative
// one is refused rather than read as the default.
func TestVertoLimitKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, "verto:\n  max_name_length: 32\n  max_id_bytes: 128\n  max_user_variables_bytes: 1024\n  write_timeout: 2s\n  release_memory_after: -1s\n")
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if vc := c.vertoConfig(); vc.MaxNameLength != 32 || vc.MaxIDBytes != 128 || vc.MaxUserVariablesBytes != 1024 || vc.WriteTimeout != 2*time.Second || vc.MemoryRelease >= 0 {
		t.Errorf("verto config = %+v", vc)
	}
	for _, key := range []string{"max_name_length", "max_id_bytes", "max_user_variables_bytes", "max_message_bytes"} {
		writeFile(t, path, "verto:\n  "+key+": -1\n")
		if _, err := loadConfig(path); err == nil {
			t.Errorf("a negative %s was accepted", key)
		}
	}
}
