#!/usr/bin/env node
// lfctl, or launchctl when called through a symlink of that name (lfctl install-launchctl).
import { main } from '../dist/cli/lfctl.js';
main();
