/** The workflows the worker registers (its `workflowsPath`). */
export { IssueWorkflow } from './issue-workflow.js';
export { DispatcherWorkflow } from './dispatcher-workflow.js';
export { ScheduleWorkflow } from './schedule-workflow.js';
