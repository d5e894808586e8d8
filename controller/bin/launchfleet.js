#!/usr/bin/env node
import '../dist/cli/launchfleet.js';
