package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/odbench/odbench/configs"
	"github.com/odbench/odbench/internal/config"
	"github.com/spf13/viper"
)

// loadConfig builds the effective configuration. Precedence, lowest first:
// built-in defaults, the profile (--profile), the config file (--config),
// ODBENCH_* environment variables, flags (applied by the caller).
//
// Problems the caller should report together with Validate's (unknown
// keys) come back as keyErr beside a usable cfg; problems that leave no
// usable configuration come back as err. Both are usage errors (exit 2).
func loadConfig(profile, file string) (cfg *config.Config, keyErr, err error) {
	v := viper.New()
	v.SetConfigType("yaml")
	var errs []error
	if profile != "" {
		data, ok := configs.Profile(profile)
		if !ok {
			return nil, nil, usageError(fmt.Errorf("unknown profile %q; valid profiles are %s", profile, strings.Join(configs.Profiles(), ", ")))
		}
		if err := mergeYAML(v, "profile "+profile, data, &errs); err != nil {
			return nil, nil, usageError(err)
		}
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, usageError(fmt.Errorf("config file: %w", err))
		}
		if err := mergeYAML(v, file, data, &errs); err != nil {
			return nil, nil, usageError(err)
		}
	}
	for _, key := range config.AllKeys() {
		// ODBENCH_EXECUTION_WARMUP_DURATION sets execution.warmup_duration.
		_ = v.BindEnv(key, "ODBENCH_"+strings.ToUpper(strings.ReplaceAll(key, ".", "_")))
	}
	c := config.Default()
	unmarshal := v.UnmarshalExact
	if len(errs) > 0 {
		unmarshal = v.Unmarshal // unknown keys are already reported, with file:line
	}
	if err := unmarshal(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToWeakSliceHookFunc(","),
	))); err != nil {
		return nil, nil, usageError(fmt.Errorf("config: %v", strings.ReplaceAll(err.Error(), "decoding failed due to the following error(s):\n\n", "")))
	}
	c.NormalizeCategories()
	if file != "" {
		// A custom scenario's data file is named relative to the config file.
		for i, cs := range c.Scenarios.Custom {
			if cs.Data != "" && !filepath.IsAbs(cs.Data) {
				c.Scenarios.Custom[i].Data = filepath.Join(filepath.Dir(file), cs.Data)
			}
		}
	}
	return &c, errors.Join(errs...), nil
}

// mergeYAML checks a YAML document strictly and merges it into v. A syntax
// error is returned; unknown keys (with file:line) are appended to keyErrs
// and the document is still merged.
func mergeYAML(v *viper.Viper, name string, data []byte, keyErrs *[]error) error {
	if err := config.CheckFile(name, data); err != nil {
		if errors.Is(err, config.ErrSyntax) {
			return err
		}
		*keyErrs = append(*keyErrs, err)
	}
	if err := v.MergeConfig(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}
