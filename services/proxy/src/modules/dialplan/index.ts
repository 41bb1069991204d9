export { name, init, DialPlanModule, groupOfAttrs, kamailioReplacement, type DialPlanRuleConfig, type DialPlanSettings } from './dialplan-module.js';
