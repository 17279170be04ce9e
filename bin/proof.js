#!/usr/bin/env node
import "../dist/proof.js";
